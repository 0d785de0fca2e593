"""The document model without an app: editing, selection, undo/redo, autosave and recovery."""

import numpy as np
import pytest

from engine.errors import PitchRangeError
from engine.music.score import Score
from tui import recovery
from tui.document import Document

from .conftest import chorale_bar


def test_typing_notes_by_name_follows_the_nearest_octave():
    doc = Document(Score.empty(16), autosave=False)
    doc.pitch = 60
    for letter in "cdeg":
        doc.put_note_named(letter)
    assert [n[2] for n in doc.score.notes(0)] == [60, 62, 64, 67]
    assert [n[1] for n in doc.score.notes(0)] == [4, 4, 4, 4]
    assert doc.step == 15  # the cursor stops on the last step of the score


def test_typing_past_the_end_adds_a_bar():
    doc = Document(Score.empty(16), autosave=False)
    doc.goto(12)
    doc.entry_length = 8
    doc.put_note(67)
    assert doc.score.num_steps == 32
    assert doc.score.notes(0) == [(12, 8, 67)]


def test_repeated_notes_stay_separate():
    doc = Document(Score.empty(16), autosave=False)
    doc.put_note(60)
    doc.put_note(60)
    assert doc.score.notes(0) == [(0, 4, 60), (4, 4, 60)]


def test_delete_lengthen_shorten_and_move(small_score):
    doc = Document(small_score, autosave=False)
    doc.set_voice(1)
    doc.goto(3)
    assert doc.note_at(1, 3) == (0, 16, 64)
    doc.resize_note(-12)
    assert doc.score.notes(1)[0] == (0, 4, 64)
    assert doc.score.pitches[1, 4] == -1
    doc.resize_note(+2)
    assert doc.score.notes(1)[0] == (0, 6, 64)
    doc.goto(0)
    doc.shift_note(+1)
    assert doc.score.notes(1)[0] == (1, 6, 64)
    doc.goto(2)
    assert doc.delete_note()
    assert (doc.score.pitches[1, :16] == -1).all()


def test_backspace_removes_the_note_just_typed():
    doc = Document(Score.empty(16), autosave=False)
    doc.put_note(60)
    doc.put_note(62)
    doc.delete_previous()
    assert doc.score.notes(0) == [(0, 4, 60)]
    assert doc.step == 4


def test_selection_spans_voices_and_whole_bars(small_score):
    doc = Document(small_score, autosave=False)
    doc.goto(3)
    doc.set_voice(1)
    doc.start_selection()
    doc.move(steps=2)
    doc.set_voice(2)
    sel = doc.selection
    assert (sel.start, sel.end, sel.voices) == (3, 6, (1, 2))
    doc.clear_selection()
    doc.start_selection(whole_bars=True)
    sel = doc.selection
    assert (sel.start, sel.end, sel.voices) == (0, 16, (0, 1, 2, 3))


def test_erase_marks_cells_and_accept_is_one_undo_step(small_score):
    doc = Document(small_score, autosave=False)
    doc.start_selection(whole_bars=True)
    doc.erase()
    assert doc.erased[:, :16].all() and not doc.erased[:, 16:].any()
    assert (doc.score.pitches[:, :16] == -1).all()
    mask = doc.generation_mask()
    filled = doc.score.with_cells(mask, small_score.pitches)
    doc.accept(filled)
    assert doc.score.same_notes(small_score) and not doc.erased.any()
    doc.undo()
    assert doc.erased[:, :16].all()  # back to the erased state in one step
    doc.undo()
    assert doc.score.same_notes(small_score) and not doc.can_undo
    doc.redo()
    doc.redo()
    assert doc.score.same_notes(small_score) and not doc.erased.any()


def test_copy_paste_and_transpose_selection(small_score):
    doc = Document(small_score, autosave=False)
    doc.start_selection()
    doc.move(steps=3)  # soprano, steps 0..3
    assert doc.copy()
    doc.clear_selection()
    doc.goto(20)
    doc.paste()
    assert list(doc.score.pitches[0, 20:24]) == [72] * 4
    assert doc.score.onsets[0, 20] and doc.score.onsets[0, 24]
    doc.goto(16)
    doc.start_selection()
    doc.goto(31)
    doc.transpose(2)
    assert doc.score.pitches[0, 16] == 73 and doc.score.pitches[1, 16] == 62
    with pytest.raises(PitchRangeError):
        doc.transpose(40)


def test_unlimited_undo_and_dirty_flag(tmp_path):
    doc = Document(Score.empty(64), autosave=False)
    for i in range(40):
        doc.put_note(48 + i % 20, length=1)
    assert doc.dirty
    doc.mark_saved(tmp_path / "x.mid")
    assert not doc.dirty
    doc.undo()
    assert doc.dirty
    doc.redo()
    assert not doc.dirty
    while doc.undo():
        pass
    assert (doc.score.pitches == -1).all()
    doc.put_note(60)  # a new branch never looks saved
    assert doc.dirty


def test_autosave_writes_a_recovery_file_that_reads_back(tmp_path, state_home):
    target = tmp_path / "song.mid"
    target.write_bytes(b"old")
    doc = Document(chorale_bar(2), path=target)
    doc.start_selection(whole_bars=True)
    doc.erase()
    path = recovery.recovery_path(target)
    assert path.is_file() and str(state_home) in str(path)
    found = recovery.read_recovery(target)
    assert found is not None and found.score.same_notes(doc.score)
    assert np.array_equal(found.erased, doc.erased)
    doc.mark_saved(target)
    assert not path.exists()


def test_recovery_older_than_the_document_is_ignored(tmp_path):
    target = tmp_path / "song.mid"
    recovery.write_recovery(target, chorale_bar(1), np.zeros((4, 16), bool))
    target.write_bytes(b"newer")
    assert recovery.read_recovery(target) is None


def test_damaged_recovery_file_is_ignored(tmp_path):
    path = recovery.recovery_path(None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    assert recovery.read_recovery(None) is None


def test_move_by_beats_and_bars_respects_pickup():
    doc = Document(Score.empty(36, pickup=4), autosave=False)
    doc.move_bars(1)
    assert doc.step == 4
    doc.move_bars(1)
    assert doc.step == 20
    doc.move_beats(1)
    assert doc.step == 24
    doc.move_beats(-1)
    assert doc.step == 20
    doc.move_bars(-1)
    assert doc.step == 4


def test_beat_moves_follow_the_felt_beat_in_compound_meter():
    from engine.music.score import Score

    doc = Document(Score.empty(48, time_signature=(6, 8)))
    doc.move_beats(1)
    assert doc.step == 6
    doc.move_beats(1)
    assert doc.step == 12
    doc.move_beats(-1)
    assert doc.step == 6
    four = Document(Score.empty(32))
    four.move_beats(1)
    assert four.step == 4


def test_undo_and_redo_take_the_cursor_to_the_change():
    doc = Document(Score.empty(64))
    doc.goto(40)
    doc.put_note(60, 4)
    doc.goto(0)
    assert doc.undo() == "enter note" and doc.step == 40
    doc.goto(10)
    assert doc.redo() == "enter note" and doc.step == 40


def test_a_note_typed_into_an_erased_region_and_taken_back_leaves_the_region_erased():
    doc = Document(Score.empty(32))
    doc.start_selection(whole_bars=True)
    doc.erase()
    doc.clear_selection()
    doc.goto(0)
    doc.put_note(64, 4)  # pinned: the model fills around it
    assert not doc.erased[0, :4].any() and doc.erased[0, 4:16].all()
    assert doc.delete_previous()
    assert doc.erased[0, :16].all()  # erased again: the model fills it, no unasked rest
    doc.goto(8)
    doc.put_note(67, 4)
    doc.goto(8)
    assert doc.resize_note(-2)
    assert doc.erased[0, 10:12].all() and not doc.erased[0, 8:10].any()
