"""Score set-up in the composer: title, meter, pickup, length; inserting and deleting bars."""

import numpy as np
import pytest

from engine.errors import ScoreError
from engine.music.midi import load_midi
from engine.music.score import Score
from tui.app import CantorApp
from tui.bars import parse_meter
from tui.document import Document

from .conftest import chorale_bar

SIZE = (100, 30)


def melody(bars: int = 3, pickup: int = 4) -> Score:
    """Quarter notes rising by step, with a pickup; fermata on the last note."""
    steps = pickup + 16 * bars
    pitches = np.full((4, steps), -1, dtype=np.int16)
    pitches[0] = 60 + np.arange(steps) // 4
    fermatas = np.zeros(steps, dtype=bool)
    fermatas[-4:] = True
    return Score(pitches, pickup=pickup, fermatas=fermatas, title="tune")


def test_meter_pickup_and_length_rebar_the_same_music_as_one_undo_step():
    doc = Document(melody(), autosave=False)
    before = doc.score
    doc.set_up(title=" Hymn ", meter=(3, 4), pickup=4, bars=4)
    score = doc.score
    assert score.title == "Hymn" and score.time_signature == (3, 4) and score.pickup == 4
    assert score.num_steps == 4 + 4 * 12 and score.num_bars == 4
    assert np.array_equal(score.pitches[:, :before.num_steps], before.pitches)  # nothing moved
    assert (score.pitches[:, before.num_steps:] == -1).all()  # the new end is silent
    assert np.array_equal(score.fermatas[:before.num_steps], before.fermatas)
    doc.set_up(title="Hymn", meter=(3, 4), pickup=4, bars=2)  # shorter: the end is cut
    assert doc.score.num_steps == 28
    assert np.array_equal(doc.score.pitches, before.pitches[:, :28])
    doc.undo()
    doc.undo()
    assert doc.score == before


def test_bad_set_up_values_change_nothing():
    doc = Document(melody(), autosave=False)
    before = doc.score
    with pytest.raises(ScoreError, match="pickup"):
        doc.set_up(title="x", meter=(3, 4), pickup=12, bars=2)
    with pytest.raises(ScoreError, match="time signature"):
        doc.set_up(title="x", meter=(5, 3), pickup=0, bars=2)
    with pytest.raises(ScoreError, match="bars"):
        doc.set_up(title="x", meter=(4, 4), pickup=0, bars=0)
    assert doc.score is before and not doc.can_undo
    for text in ("3-4", "x/4", "3/", ""):
        with pytest.raises(ScoreError, match="meter"):
            parse_meter(text)
    assert parse_meter(" 6 / 8 ") == (6, 8)


def test_insert_bar_moves_the_music_fermatas_and_erased_cells_later():
    doc = Document(melody(bars=3, pickup=4), autosave=False)
    before = doc.score
    doc.erased[1, 30:34] = True
    doc.goto(4 + 16 + 5)  # inside bar 2
    assert doc.insert_bar() == 2
    score = doc.score
    assert score.num_steps == before.num_steps + 16 and score.pickup == 4
    assert doc.step == 20  # the cursor sits at the new bar
    assert (score.pitches[:, 20:36] == -1).all()
    assert np.array_equal(score.pitches[:, :20], before.pitches[:, :20])
    assert np.array_equal(score.pitches[:, 36:], before.pitches[:, 20:])
    assert np.array_equal(score.fermatas[36:], before.fermatas[20:])
    assert doc.erased[1, 46:50].all() and doc.erased.sum() == 4
    doc.goto(1)  # in the pickup: the new bar goes after it
    doc.insert_bar()
    assert (doc.score.pitches[:, 4:20] == -1).all() and doc.score.pickup == 4
    doc.undo()
    doc.undo()
    assert doc.score == before


def test_delete_bar_removes_the_cursors_bar_or_the_pickup_and_strikes_cut_notes_again():
    tied = Score(np.repeat(np.array([[72, 74, 76], [64, 65, 67], [55, 57, 60], [48, 50, 52]]), 16,
                           axis=1).astype(np.int16))
    doc = Document(tied, autosave=False)
    doc.goto(20)
    assert doc.delete_bar() == 2
    assert doc.score.num_steps == 32 and doc.score.pitches[0, 16] == 76
    assert doc.score.onsets[:, 16].all()
    doc = Document(melody(bars=2, pickup=4), autosave=False)
    doc.goto(2)
    assert doc.delete_bar() == 0
    assert doc.score.pickup == 0 and doc.score.num_steps == 32
    assert doc.score.pitches[0, 0] == 61
    single = Document(chorale_bar(1), autosave=False)
    with pytest.raises(ScoreError, match="only bar"):
        single.delete_bar()
    assert single.score.num_steps == 16


async def test_the_composer_sets_up_the_score_and_edits_bars(tmp_path):
    path = tmp_path / "tune.mid"
    app = CantorApp(score=chorale_bar(4), path=path, load_model=False, autosave=False,
                    ascii_only=True)
    async with app.run_test(size=SIZE) as pilot:
        doc = app.editor.doc
        await pilot.press("M")
        form = app.screen
        form.query_one("#meter").value = "5/3"  # a bad value: said, the form stays
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form and doc.score.time_signature == (4, 4)
        form.query_one("#meter").value = "3/4"
        form.query_one("#pickup").value = "4"
        form.query_one("#bars").value = "6"
        form.query_one("#title").value = "Evening hymn"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is not form
        assert doc.score.time_signature == (3, 4) and doc.score.pickup == 4
        assert doc.score.num_steps == 4 + 6 * 12 and doc.score.title == "Evening hymn"
        await pilot.press("home", "right_curly_bracket", "I")  # an empty bar 1
        assert doc.score.num_steps == 4 + 7 * 12 and (doc.score.pitches[:, 4:16] == -1).all()
        await pilot.press("D")  # and gone again
        assert doc.score.num_steps == 4 + 6 * 12
        await pilot.press("ctrl+s")
        await pilot.pause()
    saved = load_midi(path)
    assert saved.time_signature == (3, 4) and saved.pickup == 4 and saved.title == "Evening hymn"
    assert saved.num_steps == 4 + 6 * 12


async def test_a_new_meter_or_pickup_with_bars_left_as_they_were_cuts_no_note():
    app = CantorApp(score=chorale_bar(4), load_model=False, autosave=False, ascii_only=True)
    async with app.run_test(size=SIZE) as pilot:
        doc = app.editor.doc
        before = [len(doc.score.notes(v)) for v in range(4)]
        await pilot.press("M")
        app.screen.query_one("#meter").value = "3/4"  # Bars still says 4
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert doc.score.time_signature == (3, 4) and doc.score.num_steps >= 64
        assert [len(doc.score.notes(v)) for v in range(4)] == before
        await pilot.press("u", "M")
        app.screen.query_one("#title").value = "Only the title"  # the length stays exactly
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert doc.score.num_steps == 64 and doc.score.title == "Only the title"
