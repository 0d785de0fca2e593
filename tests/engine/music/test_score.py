"""Score: validation, measures, and every pure operation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import PitchRangeError, ScoreError
from engine.music.score import (
    DEFAULT_PROGRAMS,
    Score,
    onsets_from_pitches,
    parse_voices,
)


def chorale_bit() -> Score:
    """Two bars of 4/4 after a quarter pickup: a held soprano, a repeated alto, a resting tenor."""
    s = [67] * 4 + [72] * 8 + [71] * 4 + [72] * 20
    a = [64] * 36
    t = [-1] * 4 + [55] * 12 + [-1] * 4 + [57] * 16
    b = [48] * 4 + [45] * 16 + [41] * 16
    onsets = np.zeros((4, 36), bool)
    onsets[1, [0, 4, 8, 12, 20]] = True  # the alto strikes its E again and again
    return Score(np.array([s, a, t, b]), onsets, pickup=4, title="bit")


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pitches, match",
    [
        (np.zeros((3, 4), int), r"shape \(4, T\)"),
        (np.zeros(4, int), r"shape \(4, T\)"),
        (np.full((4, 2), 60.5), "integers"),
        (np.full((4, 2), 128), r"0..127 or -1"),
        (np.full((4, 2), -2), r"0..127 or -1"),
    ],
)
def test_bad_pitches(pitches, match):
    with pytest.raises(ScoreError, match=match):
        Score(pitches)


def test_out_of_range_pitch_is_a_pitch_range_error():
    with pytest.raises(PitchRangeError, match="got -1..200"):
        Score(np.array([[200, -1]] * 4))


@pytest.mark.parametrize(
    "meta, match",
    [
        ({"time_signature": (4, 3)}, "D in"),
        ({"time_signature": (0, 4)}, "N in 1..32"),
        ({"time_signature": (33, 4)}, "N in 1..32"),
        ({"pickup": 16}, r"pickup must be in range 0..15"),
        ({"time_signature": (6, 8), "pickup": 12}, r"0..11 steps for 6/8"),
        ({"pickup": -1}, "pickup"),
        ({"tempo_bpm": 5}, r"10..400 BPM"),
        ({"tempo_bpm": float("nan")}, "tempo"),
        ({"programs": (0, 0, 0)}, "four GM program"),
        ({"programs": (0, 0, 0, 128)}, "0..127"),
    ],
)
def test_bad_meta(meta, match):
    with pytest.raises(ScoreError, match=match):
        Score.empty(4, **meta)


def test_bad_onsets_and_lengths():
    with pytest.raises(ScoreError, match="shape of pitches"):
        Score(np.zeros((4, 3), int), np.zeros((4, 2), bool))
    with pytest.raises(ScoreError, match="0 or more"):
        Score.empty(-1)


def test_onsets_are_normalized_and_arrays_frozen():
    pitches = np.array([[60, 60, 62, -1], [-1] * 4, [-1] * 4, [-1] * 4])
    onsets = np.array([[False, False, False, True]] + [[True] * 4] * 3)
    score = Score(pitches, onsets)
    # struck where a note starts or changes; never on silence
    assert score.onsets[0].tolist() == [True, False, True, False]
    assert not score.onsets[1:].any()
    assert score.pitches.dtype == np.int16
    with pytest.raises(ValueError):
        score.pitches[0, 0] = 61
    pitches[0, 0] = 50  # the score holds its own copy
    assert score.pitches[0, 0] == 60


def test_parse_voices():
    assert parse_voices("s,a") == (0, 1)
    assert parse_voices("BTS") == (0, 2, 3)
    with pytest.raises(ScoreError, match="unknown voice 'X'"):
        parse_voices("S,X")
    with pytest.raises(ScoreError, match="no voices"):
        parse_voices(" , ")


# --- measures and locations ----------------------------------------------------------------


def test_measures_of_a_pickup_score():
    score = chorale_bit()
    assert (score.num_steps, score.steps_per_bar, score.steps_per_beat) == (36, 16, 4)
    assert score.num_bars == 2
    assert score.bar_start(0) == 0 and score.bar_start(1) == 4 and score.bar_start(2) == 20
    assert score.bar_range(0, 0) == (0, 4)
    assert score.bar_range(1, 2) == (4, 36)
    assert score.seconds_per_step == pytest.approx(60 / 90 / 4)


@pytest.mark.parametrize(
    "meter, pickup, step, text",
    [
        ((4, 4), 4, 0, "0:4"),
        ((4, 4), 4, 4, "1:1"),
        ((4, 4), 4, 6, "1:1.5"),
        ((4, 4), 4, 21, "2:1.25"),
        ((3, 4), 0, 12, "2:1"),
        ((6, 8), 2, 0, "0:6"),
        ((6, 8), 2, 5, "1:2.5"),
    ],
)
def test_location_text(meter, pickup, step, text):
    assert Score.empty(32, time_signature=meter, pickup=pickup).location_text(step) == text


def test_bar_range_errors_say_what_is_allowed():
    with pytest.raises(ScoreError, match=r"bars must be in range 0..2"):
        chorale_bit().bar_range(1, 3)
    with pytest.raises(ScoreError, match=r"range 1..2"):
        Score.empty(32).bar_range(0, 1)
    with pytest.raises(ScoreError, match="first <= last"):
        Score.empty(32).bar_range(2, 1)


def test_partial_last_bar_counts():
    assert Score.empty(20).num_bars == 2
    assert Score.empty(20).bar_range(2, 2) == (16, 20)


# --- slicing ------------------------------------------------------------------------------


def test_slice_restrikes_a_cut_note_and_keeps_the_meter_position():
    score = chorale_bit()
    part = score.slice(8, 24)
    assert part.num_steps == 16
    assert part.pitches[0].tolist() == [72] * 4 + [71] * 4 + [72] * 8
    assert part.onsets[0, 0]  # the soprano's C held from step 4 is struck again
    assert part.pickup == 12  # step 8 is beat 2 of bar 1: 12 steps before the next bar line
    assert part.location_text(0) == "0:2" and score.location_text(8) == "1:2"  # same beat
    assert part.title == "bit" and part.time_signature == (4, 4)


def test_slice_inside_the_pickup_and_empty_slices():
    score = chorale_bit()
    assert score.slice(1, 3).pickup == 3
    assert score.slice(1, 3).location_text(0) == score.location_text(1) == "0:4.25"
    assert score.slice(4, 4).num_steps == 0
    assert score.slice(20, 36).pickup == 0


def test_short_slice_keeps_its_place_in_the_bar():
    score = chorale_bit()
    part = score.slice(8, 10)  # two 16ths from beat 2 of bar 1
    assert part.pickup == 12
    assert part.location(1)[1] == score.location(9)[1] == 2.25


@pytest.mark.parametrize("start, end", [(-1, 4), (4, 2), (0, 37)])
def test_slice_bounds(start, end):
    with pytest.raises(ScoreError, match=r"0 <= start <= end <= 36"):
        chorale_bit().slice(start, end)


def test_slice_bars():
    score = chorale_bit()
    pickup = score.slice_bars(0, 0)
    assert pickup.num_steps == 4 and pickup.pickup == 4
    bar2 = score.slice_bars(2, 2)
    assert bar2.num_steps == 16 and bar2.pickup == 0
    assert bar2.pitches[3].tolist() == [41] * 16
    assert score.slice_bars(0, 2).same_notes(score)


def test_pickup_bar_of_a_score_shorter_than_its_pickup():
    short = Score.empty(2, pickup=4)
    assert short.bar_range(0, 0) == (0, 2)


# --- erasing and writing cells ------------------------------------------------------------


def test_erase_silences_and_restarts_the_note_after():
    score = chorale_bit()
    mask = score.region_mask(6, 8, voices=[0, 3])
    erased = score.erase(mask)
    assert (erased.pitches[[0, 3], 6:8] == -1).all()
    assert erased.onsets[0, 8] and erased.onsets[3, 8]  # the held notes restart after the gap
    assert erased.pitches[1:3].tolist() == score.pitches[1:3].tolist()
    assert np.array_equal(erased.onsets[1:3], score.onsets[1:3])
    assert score.pitches[0, 6] == 72  # the original is untouched


def test_erase_wrong_mask_shape():
    with pytest.raises(ScoreError, match=r"mask must have shape \(4, 36\)"):
        chorale_bit().erase(np.zeros((4, 3), bool))


def test_region_mask_checks_voices_and_steps():
    score = chorale_bit()
    assert score.region_mask(0, 4, voices=[2]).sum() == 4
    with pytest.raises(ScoreError, match=r"voice must be in range 0..3"):
        score.region_mask(0, 4, voices=[4])
    with pytest.raises(ScoreError, match="region must satisfy"):
        score.region_mask(3, 40)


def test_with_cells_merges_equal_written_notes_and_restarts_kept_ones():
    score = chorale_bit()
    mask = score.region_mask(4, 8, voices=[2])
    written = np.full(score.pitches.shape, 55)
    result = score.with_cells(mask, written)
    assert result.pitches[2, 4:8].tolist() == [55] * 4
    assert result.onsets[2, 4] and not result.onsets[2, 5:8].any()  # one note, not four
    assert not result.onsets[2, 8]  # the kept G continues the written one (equal pitch)
    other = score.with_cells(mask, np.full(score.pitches.shape, 53))
    assert other.onsets[2, 8]  # the kept G after a written F is struck


def test_with_cells_keeps_repeated_notes_outside_the_mask():
    score = chorale_bit()
    mask = score.region_mask(30, 36, voices=[0])
    result = score.with_cells(mask, np.full(score.pitches.shape, 74))
    assert np.array_equal(result.onsets[1], score.onsets[1])
    assert result.pitches[0, 30:].tolist() == [74] * 6


def test_with_cells_checks_shapes_and_pitches():
    score = chorale_bit()
    with pytest.raises(ScoreError, match="mask must have shape"):
        score.with_cells(np.ones((4, 2), bool), score.pitches)
    with pytest.raises(ScoreError, match="pitches must have shape"):
        score.with_cells(score.region_mask(0, 2), np.zeros((4, 2), int))
    with pytest.raises(PitchRangeError):
        score.with_cells(score.region_mask(0, 2), np.full(score.pitches.shape, 130))


# --- transposing ----------------------------------------------------------------------------


def test_transpose_some_voices():
    score = chorale_bit()
    up = score.transpose(2, voices=[0, 1])
    assert up.pitches[0, 0] == 69 and up.pitches[2, 0] == -1 and up.pitches[3, 0] == 48
    assert np.array_equal(up.onsets, score.onsets)  # repeated notes stay repeated
    assert score.transpose(0) == score


def test_transpose_range_errors_name_the_voice_and_range():
    score = chorale_bit()
    with pytest.raises(
        PitchRangeError, match=r"transposing bass by -10 gives 31..38; notes must stay in 36..81"
    ):
        score.transpose(-10, voices=[3], low=36, high=81)
    with pytest.raises(PitchRangeError, match=r"soprano by \+60"):
        score.transpose(60)
    assert score.transpose(-48, voices=[2]).pitches[2, 4] == 7  # silence stays silence


# --- merging, joining, notes ----------------------------------------------------------------


def test_merge_held_notes_joins_repeats():
    merged = chorale_bit().merge_held_notes()
    assert merged.notes(1) == [(0, 36, 64)]
    assert np.array_equal(merged.onsets, onsets_from_pitches(merged.pitches))


def test_notes_lists_repeats_and_skips_rests():
    score = chorale_bit()
    assert score.notes(1) == [(0, 4, 64), (4, 4, 64), (8, 4, 64), (12, 8, 64), (20, 16, 64)]
    assert score.notes(2) == [(4, 12, 55), (20, 16, 57)]
    assert score.notes(0) == [(0, 4, 67), (4, 8, 72), (12, 4, 71), (16, 20, 72)]
    assert score.pitch_range(2) == (55, 57) and Score.empty(3).pitch_range(0) is None


def test_concat_restrikes_at_the_join_and_keeps_own_meta():
    score = chorale_bit()
    other = Score(np.full((4, 4), 64), tempo_bpm=60, title="other")
    joined = score + other
    assert joined.num_steps == 40 and joined.title == "bit" and joined.tempo_bpm == 90
    assert joined.onsets[1, 36]  # the alto's E is struck again at the join
    assert joined.slice(0, 36) == score
    with pytest.raises(ScoreError, match="only a Score"):
        score.concat(np.zeros((4, 2)))


def test_replace_recomputes_onsets_from_new_pitches():
    score = chorale_bit()
    flat = score.replace(pitches=np.full((4, 8), 60))
    assert flat.onsets[:, 0].all() and not flat.onsets[:, 1:].any()
    assert flat.title == "bit" and score.replace(title="x").title == "x"


def test_equality_compares_notes_and_meta():
    assert chorale_bit() == chorale_bit()
    assert chorale_bit() != chorale_bit().replace(tempo_bpm=91)
    assert chorale_bit() != chorale_bit().merge_held_notes()
    assert chorale_bit().same_notes(chorale_bit().replace(title="other"))
    assert Score.empty(2).programs == DEFAULT_PROGRAMS
    with pytest.raises(TypeError):
        hash(chorale_bit())


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 36), st.integers(0, 36))
def test_slices_rejoin_to_the_same_pitches(a, b):
    score = chorale_bit()
    cut = min(a, b)
    joined = score.slice(0, cut) + score.slice(cut, 36)
    assert np.array_equal(joined.pitches, score.pitches)
    # only the join may gain an onset
    extra = joined.onsets & ~score.onsets
    assert not extra[:, [t for t in range(36) if t != cut]].any()
