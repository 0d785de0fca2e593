"""The composer through Textual's Pilot: editing, selecting, erasing, undo, files, recovery, help."""

import json

import numpy as np

from engine.music.midi import load_midi, save_midi
from engine.music.score import Score
from tui import keys, recovery
from tui.app import CantorApp
from tui.screens.help import HelpScreen, help_text
from tui.screens.prompt import Choice, PathPrompt
from tui.widgets.pianoroll import FIXED_ROWS, GUTTER, HIGH

from .conftest import chorale_bar, grid_text

SIZE = (100, 30)


def make_app(path=None, score=None, **kw) -> CantorApp:
    kw.setdefault("autosave", False)
    return CantorApp(path, score=score, load_model=False, ascii_only=True, **kw)


async def test_opens_the_default_chorale_with_a_hint():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        assert doc.score.title.startswith("Chorale") and doc.score.num_steps > 100
        assert any("infill" in n.message for n in app._notifications)
        text = grid_text(app.editor.roll)
        assert "C#5" in text and "S" in text  # the soprano lane spells its first note


async def test_typing_a_tune_with_note_names_and_lengths(tmp_path):
    app = make_app(tmp_path / "tune.mid")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        doc.pitch = 60
        await pilot.press(
            "c", "c", "g", "greater_than_sign", "g", "a", "a", "8", "g", "7", "f", "f", "e", "e"
        )
        await pilot.press("d", "d", "8", "c")
        notes = doc.score.notes(0)
        assert [p for _, _, p in notes] == [60, 60, 67, 67, 69, 69, 67, 65, 65, 64, 64, 62, 62, 60]
        assert notes[6] == (24, 8, 67) and notes[-1][1] == 8
        await pilot.press("backspace")  # the last note goes
        assert doc.score.notes(0)[-1][2] == 62


async def test_edit_keys_move_lengthen_shorten_and_delete():
    app = make_app(score=chorale_bar(2))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        await pilot.press("2")  # alto
        assert doc.voice == 1 and doc.pitch == 64
        await pilot.press("minus", "minus")
        assert doc.score.notes(1)[0] == (0, 14, 64)
        await pilot.press("plus")
        assert doc.score.notes(1)[0] == (0, 15, 64)
        await pilot.press("K")  # a semitone up
        assert doc.score.pitches[1, 0] == 65
        await pilot.press("L")  # a step later
        assert doc.score.notes(1)[0] == (1, 15, 65)
        await pilot.press("x")
        assert doc.score.pitch_range(1) == (62, 62)  # only the second bar's note is left
        await pilot.press("u")
        assert doc.score.notes(1)[0] == (1, 15, 65)
        await pilot.press("u")
        assert doc.score.notes(1)[0] == (0, 15, 65)
        await pilot.press("ctrl+y", "U")
        assert doc.score.pitch_range(1) == (62, 62)


async def test_movement_keys():
    app = make_app(score=chorale_bar(4))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        await pilot.press("l", "right", "right_square_bracket")
        assert doc.step == 4
        await pilot.press("right_curly_bracket")
        assert doc.step == 16
        await pilot.press("ctrl+right", "left_square_bracket", "h")
        assert doc.step == 27
        before = doc.pitch
        await pilot.press("k", "up", "pagedown", "j")
        assert doc.pitch == before - 11
        await pilot.press("end")
        assert doc.step == 63
        await pilot.press("home", "tab", "tab")
        assert (doc.step, doc.voice) == (0, 2)


async def test_select_erase_copy_paste_transpose():
    app = make_app(score=chorale_bar(2))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        await pilot.press("v", "l", "l", "l", "shift+down")
        sel = doc.selection
        assert (sel.start, sel.end, sel.voices) == (0, 4, (0, 1))
        await pilot.press("y", "escape")
        assert doc.selection is None and doc.clipboard is not None
        await pilot.press("right_curly_bracket", "p")
        assert list(doc.score.pitches[:2, 16]) == [72, 64]
        await pilot.press("V", "asterisk")  # whole bar, then voice span only
        await pilot.press("greater_than_sign")
        assert doc.score.pitches[1, 16] == 76 and doc.score.pitches[3, 16] == 43
        await pilot.press("escape", "V", "x")
        assert doc.erased[:, 16:].all() and (doc.score.pitches[:, 16:] == -1).all()
        assert ":" in grid_text(app.editor.roll)


async def test_shift_arrows_select_and_whole_score():
    app = make_app(score=chorale_bar(2))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        await pilot.press("shift+right", "shift+right", "shift+down", "shift+down")
        sel = doc.selection
        assert (sel.start, sel.end, sel.voices) == (0, 3, (0, 1, 2))
        await pilot.press("ctrl+a")
        sel = doc.selection
        assert (sel.start, sel.end, sel.voices) == (0, 32, (0, 1, 2, 3))


async def test_save_and_open_round_trip(tmp_path):
    target = tmp_path / "song.mid"
    app = make_app(target)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        doc.pitch = 67
        await pilot.press("g", "a", "b", "ctrl+s")
        assert target.is_file() and not doc.dirty
        assert "song.mid" in str(app.editor.query_one("#status").render())
    saved = load_midi(target)
    assert [p for _, _, p in saved.notes(0)] == [67, 69, 71]

    other = tmp_path / "other.mid"
    save_midi(chorale_bar(2), other)
    app = make_app(target)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, PathPrompt)
        app.screen.query_one("Input").value = str(other)
        await pilot.press("enter")
        await pilot.pause()
        assert app.editor.doc.path == other
        assert app.editor.doc.score.same_notes(load_midi(other))
        assert any("Opened" in (n.title or "") for n in app._notifications)


async def test_save_as_asks_for_a_name_and_adds_the_extension(tmp_path):
    app = make_app(score=chorale_bar(1))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PathPrompt)
        app.screen.query_one("Input").value = str(tmp_path / "piece")
        await pilot.press("enter")
        await pilot.pause()
        assert (tmp_path / "piece.mid").is_file()
        assert app.editor.doc.path == tmp_path / "piece.mid"


async def test_quit_asks_when_there_are_unsaved_changes():
    app = make_app(score=chorale_bar(1))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("x")  # delete a note: unsaved
        await pilot.press("q")
        assert isinstance(app.screen, Choice)
        await pilot.press("escape")
        assert app.screen is app.editor and app.is_running
        await pilot.press("ctrl+q")  # the app-wide quit key asks too
        assert isinstance(app.screen, Choice)
        await pilot.press("escape")
        await pilot.press("q", "d")
        await pilot.pause()
    assert app.return_code == 0


async def test_recovery_after_a_crash(tmp_path):
    target = tmp_path / "song.mid"
    save_midi(chorale_bar(2), target)
    app = make_app(target, autosave=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("V", "x")  # erase bar 1 ... and then the process dies
        edited = app.editor.doc.score
    assert recovery.recovery_path(target).is_file()  # written at the edit, not at exit

    app = make_app(target, autosave=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, Choice)
        await pilot.press("y")
        await pilot.pause()
        doc = app.editor.doc
        assert doc.score.same_notes(edited) and doc.erased[:, :16].all() and doc.dirty
        await pilot.press("u")  # recovering is one undo step back to the file
        assert doc.score.same_notes(load_midi(target))


async def test_help_lists_every_key_and_palette_every_action():
    app = make_app(score=chorale_bar(1))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.screen is app.editor
        commands = list(app.get_system_commands(app.editor))
        titles = " ".join(c.title.lower() for c in commands)
    text = help_text()
    for key in keys.KEYS:
        assert key.description in text
        if key.action and key.action != "command_palette":
            assert key.description.lower() in titles


async def test_palette_command_runs_the_action():
    app = make_app(score=chorale_bar(1))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        command = next(c for c in app.get_system_commands(app.editor) if c.title.startswith("Zoom"))
        command.callback()
        await pilot.pause()
        assert app.editor.roll.zoom == 2


async def test_ascii_grid_uses_only_ascii(tmp_path):
    app = make_app(score=chorale_bar(2))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("v", "l", "l")
        text = grid_text(app.editor.roll, 19)
        text.encode("ascii")
        assert "C5" in text and "=" in text  # soprano lane: name then held glyphs


async def test_settings_change_programs_and_sampling():
    app = make_app(score=chorale_bar(1))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("comma")
        screen = app.screen
        screen.query_one("#variants").value = "2"
        screen.query_one("#programs").value = "19 19 19 32"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.settings.variants == 2
        assert app.editor.doc.score.programs == (19, 19, 19, 32)
        await pilot.press("comma")
        app.screen.query_one("#steps").value = "lots"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.settings.steps == 96  # nothing applied from a bad form


async def test_recovery_can_be_kept_aside(tmp_path):
    target = tmp_path / "song.mid"
    save_midi(chorale_bar(2), target)
    edited = chorale_bar(2).transpose(1)
    recovery.write_recovery(target, edited, np.zeros((4, 32), bool))
    app = make_app(target, autosave=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, Choice)
        await pilot.press("escape")
        await pilot.press("x")  # an edit autosaves the current document
    kept = [p for p in recovery.recovery_path(target).parent.iterdir() if p.stem.count("-") >= 3]
    assert len(kept) == 1
    assert recovery.score_from_dict(json.loads(kept[0].read_text())["score"]) == edited


async def test_clicking_the_grid_moves_the_cursor():
    app = make_app(score=chorale_bar(2))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        roll = app.editor.roll
        y0 = roll.scroll_offset.y
        await pilot.click("#roll", offset=(GUTTER + 6, FIXED_ROWS + 3))
        doc = app.editor.doc
        assert doc.step == 6 and doc.pitch == HIGH - (y0 + 3)
        await pilot.click("#roll", offset=(GUTTER + 9, 3))  # the tenor lane
        assert doc.voice == 2 and doc.step == 9


async def test_note_keys_act_on_the_note_just_typed():
    """After a typed note the cursor stands after it: + - H L x act on that note, and the cursor
    stays where the next note goes."""
    app = make_app(score=Score.empty(32))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        doc.pitch = 60
        await pilot.press("7", "c")  # a quarter C
        assert doc.score.notes(0) == [(0, 4, 60)] and doc.step == 4
        await pilot.press("plus")
        assert doc.score.notes(0) == [(0, 5, 60)] and doc.step == 5
        await pilot.press("minus", "minus")
        assert doc.score.notes(0) == [(0, 3, 60)] and doc.step == 3
        await pilot.press("L")
        assert doc.score.notes(0) == [(1, 3, 60)]
        await pilot.press("x")
        assert doc.score.notes(0) == [] and doc.step == 1
        await pilot.press("d")  # typing goes on from where that note began
        assert doc.score.notes(0) == [(1, 4, 62)]


async def test_V_and_a_bar_jump_select_two_bars():
    app = make_app(score=chorale_bar(4))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        await pilot.press("V")
        assert (doc.selection.start, doc.selection.end) == (0, 16)
        await pilot.press("right_curly_bracket")
        assert (doc.selection.start, doc.selection.end) == (0, 32)
        await pilot.press("right_curly_bracket")
        assert (doc.selection.start, doc.selection.end) == (0, 48)
        await pilot.press("left_curly_bracket")
        assert (doc.selection.start, doc.selection.end) == (0, 32)


async def test_save_as_asks_before_replacing_another_file_and_refuses_a_folder(tmp_path):
    other = tmp_path / "other.mid"
    save_midi(chorale_bar(2), other)
    before = other.read_bytes()
    app = make_app(score=chorale_bar(1))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for folder in (str(tmp_path), str(tmp_path) + "/"):  # a folder is not a file name
            await pilot.press("S")
            app.screen.query_one("Input").value = folder
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is app.editor and app.editor.doc.path is None
        assert sorted(p.name for p in tmp_path.parent.iterdir() if p.suffix == ".mid") == []
        assert any("is a folder" in n.message for n in app._notifications)
        await pilot.press("S")
        app.screen.query_one("Input").value = str(other)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, Choice) and "Replace it?" in app.screen.question
        await pilot.press("escape")
        assert other.read_bytes() == before and app.editor.doc.path is None
        await pilot.press("S")
        app.screen.query_one("Input").value = str(other)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert app.editor.doc.path == other and load_midi(other).same_notes(chorale_bar(1))
        await pilot.press("S", "enter")  # its own file again: no question
        await pilot.pause()
        assert app.screen is app.editor


async def test_editing_details_found_by_users():
    """A selection left past a shortened end copies without a crash; a note lengthened or moved
    into an erased region is kept like a typed one; a line pastes into the cursor's voice;
    x on silence the cursor moved to deletes nothing."""
    app = make_app(score=chorale_bar(2))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        await pilot.press("end", "v", "D", "y")  # the bar under the selection's start is gone
        assert app.is_running and doc.clipboard is not None
        await pilot.press("escape", "u")
        await pilot.press("1", "right_curly_bracket", "v", "right_curly_bracket", "x", "escape")
        await pilot.press("home", "plus", "plus", "plus", "plus")  # into the erased bar 2
        assert doc.score.notes(0)[0][:2] == (0, 20) and not doc.erased[0, 16:20].any()
        await pilot.press("home", "v", "l", "l", "l", "y", "escape", "3", "home", "p")
        assert doc.score.pitches[2, 0] == 72 and doc.score.pitches[0, 0] == 72  # S line in T
    app = make_app(score=Score.empty(32))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        doc.pitch = 60
        await pilot.press("7", "c", "d", "e", "right", "left")  # onto the silence after E
        await pilot.press("x")
        assert [n[2] for n in doc.score.notes(0)] == [60, 62, 64]


async def test_recovery_is_offered_for_a_key_or_fermata_change_alone(tmp_path):
    target = tmp_path / "song.mid"
    save_midi(chorale_bar(2), target)
    app = make_app(target, autosave=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("T")
        app.screen.query_one("Input").value = "Bb"
        await pilot.press("enter")
        await pilot.pause()
        assert app.editor.doc.score.key == "Bb"  # ... and then the process dies
    app = make_app(target, autosave=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, Choice)  # the notes are the same, the key is not
        await pilot.press("y")
        await pilot.pause()
        assert app.editor.doc.score.key == "Bb"
