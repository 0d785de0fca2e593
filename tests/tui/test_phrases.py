"""Fermatas and key in the composer: guessed phrase ends shown, F toggles, undo, save/reopen, T sets."""

from __future__ import annotations

import numpy as np
from rich.segment import Segment

from engine.music.midi import load_midi, save_midi
from engine.music.musicxml import save_musicxml
from engine.music.score import Score
from tui.app import CantorApp
from tui.screens.prompt import PathPrompt
from tui.widgets.pianoroll import GUTTER

SIZE = (100, 30)


def tune() -> Score:
    """Four bars of 4/4 in C major: half notes ending bar 2 and a whole note ending the piece."""
    soprano = [72] * 4 + [74] * 4 + [76] * 4 + [77] * 4 + [79] * 4 + [77] * 4 + [76] * 8 \
        + [74] * 4 + [72] * 4 + [71] * 4 + [74] * 4 + [72] * 16
    pitches = np.full((4, 64), -1, dtype=np.int16)
    pitches[0] = soprano
    pitches[3] = [48] * 16 + [43] * 16 + [41] * 16 + [48] * 16
    return Score(pitches, title="tune")


def make_app(path=None, score=None, **kw) -> CantorApp:
    kw.setdefault("autosave", False)
    kw.setdefault("ascii_only", True)
    return CantorApp(path, score=score, load_model=False, **kw)


def header(roll) -> list[Segment]:
    return list(roll.render_line(0))


def header_text(roll) -> str:
    return "".join(seg.text for seg in header(roll))[GUTTER:]


def status(app) -> str:
    return str(app.editor.query_one("#status").render())


async def test_the_guess_is_shown_dim_and_toggling_makes_the_set_explicit():
    app = make_app(score=tune())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc, roll = app.editor.doc, app.editor.roll
        assert doc.score.fermatas is None
        marks, guessed = doc.phrase_marks()
        assert guessed and np.flatnonzero(marks).tolist() == [*range(24, 32), *range(48, 64)]
        text = header_text(roll)
        # Bar 4's number keeps its column: the final fermata moves one to the right.
        assert text[24] == "^" and text[48:50] == "4^" and text.count("^") == 2
        marks_drawn = [seg.style for seg in header(roll) if seg.text == "^"]
        assert marks_drawn == [roll.palette.fermata_guess] * 2  # guessed: drawn dim

        await pilot.press("right_curly_bracket")  # bar 2, the D5 quarter at step 16
        assert doc.step == 16
        await pilot.press("F")
        assert doc.score.fermatas is not None  # the user's own set now
        assert np.flatnonzero(doc.score.fermatas).tolist() == [
            *range(16, 20), *range(24, 32), *range(48, 64)]
        text = header_text(roll)
        assert text[16:18] == "2^" and text.count("^") == 3
        assert [seg.style for seg in header(roll) if seg.text == "^"] == [roll.palette.fermata] * 3

        await pilot.press("u")  # undo: back to no fermatas, the guess shows again
        assert doc.score.fermatas is None
        assert header_text(roll).count("^") == 2

        await pilot.press("U", "l", "l", "F")  # redo, then off again inside the same span
        assert np.flatnonzero(doc.score.fermatas).tolist() == [*range(24, 32), *range(48, 64)]


async def test_fermatas_are_saved_and_reopened(tmp_path):
    target = tmp_path / "tune.mid"
    save_midi(tune(), target)
    app = make_app(target)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        doc.goto(8)
        await pilot.press("F", "ctrl+s")
        assert not doc.dirty
    saved = load_midi(target)
    assert np.flatnonzero(saved.fermatas).tolist() == [*range(8, 12), *range(24, 32),
                                                      *range(48, 64)]
    app = make_app(target)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        assert np.array_equal(doc.score.fermatas, saved.fermatas)
        assert doc.phrase_marks()[1] is False
        assert header_text(app.editor.roll).count("^") == 3


async def test_unicode_header_draws_a_fermata_sign():
    app = make_app(score=tune(), ascii_only=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert header_text(app.editor.roll)[24] == "◠"


async def test_status_shows_the_estimated_key_and_t_sets_it():
    app = make_app(score=tune())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "key: C major (estimated)" in status(app)
        await pilot.press("T")
        assert isinstance(app.screen, PathPrompt)
        app.screen.query_one("Input").value = "a minor"
        await pilot.press("enter")
        await pilot.pause()
        assert app.editor.doc.score.key == "Am"
        assert "key: A minor |" in status(app) + " |"
        await pilot.press("T")
        app.screen.query_one("Input").value = "H dur"
        await pilot.press("enter")
        await pilot.pause()
        assert app.editor.doc.score.key == "Am"  # refused, nothing lost
        assert any("unknown key" in n.message for n in app._notifications)
        assert isinstance(app.screen, PathPrompt)  # asked again, with the name as typed
        assert app.screen.query_one("Input").value == "H dur"
        app.screen.query_one("Input").value = "auto"
        await pilot.press("enter")
        await pilot.pause()
        assert app.editor.doc.score.key is None
        assert "key: C major (estimated)" in status(app)
        await pilot.press("u")
        assert app.editor.doc.score.key == "Am"


async def test_a_musicxml_file_opens_in_the_composer(tmp_path):
    fermatas = np.zeros(64, dtype=bool)
    fermatas[24:32] = True
    path = save_musicxml(tune().replace(fermatas=fermatas, key="C"), tmp_path / "tune.musicxml")
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        assert np.array_equal(doc.score.fermatas, fermatas)
        assert "key: C major |" in status(app) + " |"
        await pilot.press("ctrl+s")  # MusicXML is read, MIDI is written: save as offers .mid
        assert isinstance(app.screen, PathPrompt)
        assert app.screen.query_one("Input").value.endswith("tune.mid")


async def test_F_right_after_typing_marks_the_typed_note():
    app = make_app(score=Score.empty(32).replace(fermatas=np.zeros(32, bool)))  # none marked
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        doc.pitch = 72
        await pilot.press("8", "c")  # a half note C; the cursor stands after it
        assert doc.step == 8
        await pilot.press("F")
        marks = doc.score.fermatas
        assert marks is not None and marks[:8].all() and not marks[8:].any()
        await pilot.press("F")  # and off again
        assert not doc.score.fermatas.any()
        await pilot.press("end", "F")  # over nothing: marked, and said so
        assert doc.score.fermatas[-1]
        assert any("No note sounds there" in n.message for n in app._notifications)
