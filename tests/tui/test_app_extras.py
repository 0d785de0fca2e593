"""Composer features around the grid: counterpoint findings, export, playback, mute/solo, zoom."""

import wave
from pathlib import Path

import numpy as np

from tui.app import CantorApp
from tui.default_score import default_score
from tui.screens.prompt import PathPrompt
from tui.widgets.findings import FindingsPanel

from .conftest import chorale_bar, wait_until

SIZE = (110, 30)


def make_app(score=None, **kw) -> CantorApp:
    return CantorApp(
        score=score or chorale_bar(2), load_model=False, autosave=False, ascii_only=True, **kw
    )


async def test_findings_toggle_lists_and_marks_parallel_octaves():
    score = chorale_bar(2)
    pitches = score.pitches.copy()
    pitches[0, 16:] = 74  # soprano C5 -> D5 over bass C3 -> D3: parallel octaves
    pitches[3, 16:] = 50
    app = make_app(score.replace(pitches=pitches))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        editor = app.editor
        await pilot.press("w")
        await pilot.pause()
        panel = editor.query_one(FindingsPanel)
        assert any("parallel octaves" in text for _, _, text in panel.entries)
        assert editor.roll.findings[0, 16] and editor.roll.findings[3, 16]
        # Choosing a finding moves the cursor there.
        panel.query_one("OptionList").focus()
        index = next(i for i, e in enumerate(panel.entries) if "parallel" in e[2])
        panel.query_one("OptionList").highlighted = index
        await pilot.press("enter")
        assert editor.doc.step == panel.entries[index][0]
        # Fixing the bass clears the finding.
        editor.roll.focus()
        await pilot.press("4", "right_curly_bracket", "J", "J")
        assert not any("parallel octaves" in text for _, _, text in panel.entries)
        await pilot.press("w")
        await pilot.pause()
        assert not editor.query(FindingsPanel) and editor.roll.findings is None


async def test_export_wav_and_musicxml(tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for name in ("out.wav", "out.musicxml"):
            await pilot.press("ctrl+e")
            assert isinstance(app.screen, PathPrompt)
            app.screen.query_one("Input").value = str(tmp_path / name)
            await pilot.press("enter")
            await pilot.pause()
        await pilot.press("ctrl+e")
        app.screen.query_one("Input").value = str(tmp_path / "out.txt")
        await pilot.press("enter")
        await pilot.pause()
        assert any(n.title == "Unknown format" for n in app._notifications)
    with wave.open(str(tmp_path / "out.wav")) as wav:
        assert wav.getnframes() > wav.getframerate()  # two bars at 90 bpm: over 5 s
    assert b"score-partwise" in (tmp_path / "out.musicxml").read_bytes()[:2000]
    assert not (tmp_path / "out.txt").exists()


async def test_play_moves_the_playhead_or_says_once_there_is_no_audio():
    app = make_app(default_score())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        editor = app.editor
        await pilot.press("space")

        def outcome():
            return editor.roll.playhead is not None or editor._audio_error is not None

        assert await wait_until(pilot, outcome, 20)
        if editor._audio_error is not None:
            await pilot.press("space")
            await pilot.pause()
            warnings = [n for n in app._notifications if n.title == "No audio"]
            assert len(warnings) == 1 and "WAV" in warnings[0].message
        else:
            first = editor.roll.playhead
            assert await wait_until(pilot, lambda: editor.roll.playhead != first, 5)
            await pilot.press("space")
            assert editor.roll.playhead is None and not editor._playing


async def test_mute_solo_and_zoom_keys():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        editor = app.editor
        await pilot.press("2", "m")
        assert app.muted == {1} and editor.roll.muted == {1}
        await pilot.press("4", "s")
        assert app.soloed == {3} and editor.roll.muted == {0, 1, 2}
        assert "solo B" in str(editor.query_one("#status").render())
        await pilot.press("s", "2", "m")
        assert not app.muted and not app.soloed and not editor.roll.muted
        await pilot.press("z")
        assert editor.roll.zoom == 2
        await pilot.press("z")
        assert editor.roll.zoom == 1


async def test_entry_lengths_and_dots():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        await pilot.press("6")
        assert doc.entry_length == 2
        await pilot.press("7", "full_stop")
        assert doc.entry_length == 6
        await pilot.press("full_stop")
        assert doc.entry_length == 4
        await pilot.press("9", "5")
        assert doc.entry_length == 1
        assert np.all(doc.score.pitches == chorale_bar(2).pitches)  # lengths edit nothing



async def test_wav_export_in_a_browser_is_delivered_as_a_download(tmp_path, monkeypatch):
    """Under `cantor serve` the WAV is written and also goes to the browser via deliver_binary."""
    monkeypatch.setattr(CantorApp, "is_web", property(lambda self: True))
    app = make_app()
    delivered = []  # Textual's own delivery needs a browser on the other end; record the hand-off
    app.deliver_binary = lambda path, **kw: delivered.append((Path(path), kw)) or "key"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+e")
        app.screen.query_one("Input").value = str(tmp_path / "song.wav")
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: delivered)
    path, options = delivered[0]
    assert path == tmp_path / "song.wav"  # the server keeps its copy; the browser gets one too
    assert options["save_filename"] == "song.wav" and options["mime_type"] == "audio/wav"
    with wave.open(str(path)) as wav:
        assert wav.getnframes() > wav.getframerate()  # the whole render, two bars at 90 bpm


async def test_in_a_browser_the_status_names_the_browser_and_W_stays_in_the_shared_folder(
        tmp_path, monkeypatch):
    """Under `cantor serve` the page plays the sound (not the server's devices), and the WAV
    prompt obeys --root like every other file prompt; the WAV is downloaded."""
    monkeypatch.setattr(CantorApp, "is_web", property(lambda self: True))
    root = tmp_path / "shared"
    root.mkdir()
    app = make_app()
    app.root = root.resolve()
    delivered = []
    app.deliver_binary = lambda path, **kw: delivered.append(Path(path)) or "key"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        assert "sound: in the browser" in str(app.editor.query_one("#status").render())
        await pilot.press("W")
        assert app.screen.query_one("Input").value == "."
        app.screen.query_one("Input").value = str(tmp_path / "outside")
        await pilot.press("enter")
        await pilot.pause(0.5)
        assert not (tmp_path / "outside").exists()
        assert any("outside the folder" in n.message for n in app._notifications)
        await pilot.press("W")
        app.screen.query_one("Input").value = "wavs"
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: delivered)
    assert delivered == [root / "wavs" / "untitled.wav"] and delivered[0].stat().st_size > 44
