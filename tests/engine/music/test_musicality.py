"""Musicality measures on hand-made four-part scores (engine/music/musicality.py, harmony.py)."""

import numpy as np
import pytest

from engine.music.counterpoint import check_score
from engine.music.harmony import (
    estimate_key,
    is_six_four,
    seventh_pitch_class,
    strong_beat_steps,
    windows,
)
from engine.music.musicality import (
    Counts,
    histogram_distances,
    measure,
    melody_allows_cadence,
    pooled,
    staggered_parallels,
    total_variation,
    unresolved_sevenths,
)
from engine.music.score import Score

C_MAJOR = (0, False)
I = (72, 67, 64, 48)  # C5 G4 E4 C3
IV = (72, 69, 65, 53)  # C5 A4 F4 F3
V = (71, 67, 62, 55)  # B4 G4 D4 G3
I64 = (72, 67, 64, 43)  # C major over G2


def chords(*columns, quarters=None, **meta) -> Score:
    """One chord (S, A, T, B) per quarter note unless `quarters` gives each chord's length."""
    quarters = quarters or [1] * len(columns)
    blocks = [np.tile(np.array(c, dtype=np.int16)[:, None], 4 * q) for c, q in zip(columns, quarters)]
    return Score(np.concatenate(blocks, axis=1), **meta)


def test_textbook_authentic_cadence_is_found_and_a_plagal_one_is_not():
    authentic = measure(chords(I, IV, V, I, quarters=[1, 1, 2, 4]), C_MAJOR)
    plagal = measure(chords(I, V, IV, I, quarters=[1, 1, 2, 4]), C_MAJOR)
    assert authentic.tallies["final_tonic"] == [1, 1]
    assert authentic.tallies["final_cadence"] == [1, 1]
    assert plagal.tallies["final_tonic"] == [1, 1]
    assert plagal.tallies["final_cadence"] == [0, 1]


def test_the_open_cadence_share_counts_only_melodies_that_allow_a_v_i():
    allowed = chords(I, IV, V, I, quarters=[1, 1, 2, 4])  # melody C C B C: from the leading tone
    assert measure(allowed, C_MAJOR).tallies["final_cadence_open"] == [1, 1]
    plagal = chords(I, V, IV, I, quarters=[1, 1, 2, 4])  # melody C B C C: the tonic repeated ...
    assert measure(plagal, C_MAJOR).tallies["final_cadence_open"] == [0, 1]  # ... from B: allowed
    from_above = chords(I, (69, 65, 60, 53), I, quarters=[2, 1, 4])  # melody ... A C: from the 6th
    assert measure(from_above, C_MAJOR).tallies["final_cadence_open"] == [0, 0]
    on_two = chords(I, V, quarters=[2, 2])  # the melody ends on D: off the tonic triad
    assert measure(on_two, C_MAJOR).tallies["final_cadence_open"] == [0, 0]
    melody = np.array([72, 72, -1, 70, 70, 72, 72], dtype=np.int16)  # rest, then the lowered 7th
    assert not melody_allows_cadence(melody, 6, C_MAJOR)
    assert melody_allows_cadence(np.array([74, -1, 72, 72], dtype=np.int16), 3, C_MAJOR)  # 2 -> 1
    assert melody_allows_cadence(np.array([71, 76], dtype=np.int16), 1, (4, True))  # E minor: B E
    assert not melody_allows_cadence(np.array([74, 76], dtype=np.int16), 1, (4, True))  # D E


def test_final_chord_must_be_the_tonic_over_the_tonic():
    inverted = measure(chords(V, (72, 67, 60, 52), quarters=[2, 2]), C_MAJOR)  # I6 at the end
    elsewhere = measure(chords(I, V, quarters=[2, 2]), C_MAJOR)  # ends on the dominant
    assert inverted.tallies["final_tonic"] == [0, 1]
    assert elsewhere.tallies["final_tonic"] == [0, 1]
    assert measure(chords(V, I, quarters=[2, 2]), (0, True)).tallies["final_tonic"] == [1, 1]  # Picardy


def test_the_leading_tone_must_resolve():
    tenor_leaps = (67, 67, 59, 55)  # G4 G4 B3 G3: the leading tone in the tenor ...
    assert measure(chords(tenor_leaps, (72, 67, 64, 48), quarters=[2, 2]),  # ... leaps up to E4
                   C_MAJOR).tallies["final_cadence"] == [0, 1]
    assert measure(chords(tenor_leaps, (76, 67, 60, 48), quarters=[2, 2]),  # ... rises to C4
                   C_MAJOR).tallies["final_cadence"] == [1, 1]
    assert measure(chords(tenor_leaps, (76, 67, 55, 48), quarters=[2, 2]),  # ... falls to G3
                   C_MAJOR).tallies["final_cadence"] == [1, 1]


def test_six_four_on_a_strong_beat_is_counted_and_on_a_weak_beat_is_not():
    strong = measure(chords(I64, V, I, I), C_MAJOR)  # strong beats of 4/4: 1 and 3
    weak = measure(chords(I, I64, I, I), C_MAJOR)
    assert strong.tallies["strong_six_four"] == [1, 2]
    assert weak.tallies["strong_six_four"] == [0, 2]
    assert is_six_four(np.array(I64)) and not is_six_four(np.array(I))


def test_complete_triads_and_dominant_sevenths_on_strong_beats():
    open_fifth = (72, 67, 60, 48)  # C G C C: no third
    v7 = (74, 65, 59, 43)  # D5 F4 B3 G2
    counts = measure(chords(open_fifth, I, v7, I), C_MAJOR)
    assert counts.tallies["strong_complete"] == [1, 2]  # beat 1 incomplete, beat 3 a V7


def test_unresolved_seventh_in_the_alto_is_counted_and_a_resolved_one_is_not():
    v7 = (74, 65, 59, 43)  # the alto F4 is the seventh of G7
    resolved = chords(v7, (72, 64, 60, 48), quarters=[2, 2])  # F4 -> E4
    unresolved = chords(v7, (72, 67, 60, 48), quarters=[2, 2])  # F4 -> G4
    assert seventh_pitch_class(np.array(v7)) == 5
    assert unresolved_sevenths(resolved) == []
    assert unresolved_sevenths(unresolved) == [(1, 0)]
    assert measure(unresolved, C_MAJOR).events["unresolved_sevenths"] == 1


def test_an_off_beat_passing_seventh_owes_no_resolution():
    # Alto A4-B4-C5 in eighths over a held C chord, tenor and bass still: B4 passes upward.
    pitches = np.array([[76] * 8, [69, 69, 71, 71, 72, 72, 72, 72], [64] * 8, [48] * 8], dtype=np.int16)
    assert unresolved_sevenths(Score(pitches)) == []


def test_a_staggered_parallel_fifth_is_counted_and_the_step_checker_misses_it():
    # Tenor G3 -> A3 on beats 1 and 2; bass C3, E3 (an eighth later), D3: fifths on both beats.
    pitches = np.array([
        [76] * 8,
        [67] * 8,
        [55, 55, 55, 55, 57, 57, 57, 57],
        [48, 48, 52, 52, 50, 50, 50, 50],
    ], dtype=np.int16)
    score = Score(pitches)
    assert staggered_parallels(score) == [(2, 3, 4)]
    assert check_score(score).counts["parallel_fifths"] == 0
    # Without the eighth in between the step checker sees it, so it is not counted again here.
    direct = Score(np.array([[76] * 8, [67] * 8, [55] * 4 + [57] * 4, [48] * 4 + [50] * 4], dtype=np.int16))
    assert staggered_parallels(direct) == []
    assert check_score(direct).counts["parallel_fifths"] == 1


def test_key_of_simple_scales():
    c_major = np.array([[60, 62, 64, 65, 67, 69, 71, 72, 67, 60]])
    a_minor = np.array([[69, 71, 72, 74, 76, 77, 80, 81, 76, 69]])
    assert estimate_key(np.repeat(c_major, 4, axis=1)) == (0, False)
    assert estimate_key(np.repeat(a_minor, 4, axis=1)) == (9, True)
    assert estimate_key(np.full((1, 8), -1)) is None


def test_key_agreement_global_and_per_window():
    cadence = chords(I, IV, V, I, I, IV, V, I, I, IV, V, I, I, IV, V, I)  # four bars of C major
    up_a_tone = cadence.transpose(2)
    same = measure(cadence, C_MAJOR, melody_key=C_MAJOR, reference=cadence)
    assert same.tallies["key_global"] == [1, 1] and same.tallies["key_global_melody"] == [1, 1]
    assert same.tallies["key_local"] == [2, 2]  # two 2-bar windows, both in C
    other = measure(cadence, C_MAJOR, melody_key=(2, False), reference=up_a_tone)
    assert other.tallies["key_global"] == [0, 1] and other.tallies["key_global_melody"] == [0, 1]
    assert other.tallies["key_local"] == [0, 2]


def test_windows_keep_the_pickup_with_the_first_and_a_short_tail_with_the_last():
    score = Score.empty(4 + 16 * 5 + 4, pickup=4)
    assert windows(score) == [(0, 36), (36, 68), (68, 88)]
    assert list(strong_beat_steps(Score.empty(24, time_signature=(3, 4)))) == [0, 12]


def test_pooled_figures_and_histogram_distances():
    a = measure(chords(I, IV, V, I, quarters=[1, 1, 2, 4]), C_MAJOR)
    b = measure(chords(I, V, IV, I, quarters=[1, 1, 2, 4]), C_MAJOR)
    figures = pooled([a, b])
    assert figures["final_cadence"] == 0.5 and figures["key_local"] is None
    assert figures["unresolved_sevenths"] == 0.0
    assert total_variation([1, 0], [1, 0]) == 0.0 and total_variation([1, 0], [0, 1]) == 1.0
    distances = histogram_distances([a], [a])
    assert distances["leaps_B"] == 0.0 and set(distances) == {
        f"{kind}_{v}" for kind in ("leaps", "lengths") for v in "ATB"}
    summed = a + b
    assert summed.quarters == 16 and summed.leaps.sum() == a.leaps.sum() + b.leaps.sum()
    assert isinstance(Counts() + a, Counts)


@pytest.mark.parametrize("meter,strong", [((4, 4), [0, 8, 16, 24]), ((2, 4), [0, 8, 16, 24]), ((3, 4), [0, 12, 24]), ((6, 8), [0, 6, 12, 18, 24, 30])])
def test_strong_beats_follow_the_meter(meter, strong):
    assert list(strong_beat_steps(Score.empty(32, time_signature=meter))) == strong


def test_an_opening_on_the_tonic_is_counted_when_the_melody_starts_on_it():
    on_tonic = measure(chords(I, V, I), C_MAJOR)
    assert on_tonic.tallies["opening_tonic"] == [1, 1]
    inverted = measure(chords(I64, V, I), C_MAJOR)
    assert inverted.tallies["opening_tonic"] == [0, 1]
    starts_elsewhere = measure(chords(V, V, I), C_MAJOR)  # the melody starts on B: not counted
    assert starts_elsewhere.tallies["opening_tonic"] == [0, 0]


def test_rests_under_the_melody_are_counted_per_melody_step():
    score = chords(I, IV, V, I)
    pitches = score.pitches.copy()
    pitches[2, 4:8] = -1  # the tenor drops out for the second quarter
    pitches[:, 12:16] = -1  # everyone rests in the last quarter: not under the melody
    counts = measure(Score(pitches), C_MAJOR)
    assert counts.tallies["rests_under_melody"] == [4, 12]
    assert pooled([counts])["rests_under_melody"] == pytest.approx(4 / 12)


def test_phrase_end_chords_are_counted_at_each_fermata_where_the_score_has_fermatas():
    V7 = (71, 65, 62, 55)  # B4 F4 D4 G3: a seventh chord, not a triad
    score = chords(I, IV, V7, V, I, quarters=[1, 1, 1, 1, 4])
    assert measure(score, C_MAJOR).tallies["phrase_end_complete"] == [0, 0]  # none known
    marks = np.zeros(score.num_steps, dtype=bool)
    marks[8:12] = True  # the V7 under a fermata
    marks[16:] = True  # the final I
    tallies = measure(score.replace(fermatas=marks), C_MAJOR).tallies
    assert tallies["phrase_end_complete"] == [1, 2]


def test_openings_are_counted_for_melodies_that_start_on_any_note_of_the_tonic_triad():
    on_the_third = (76, 67, 60, 48)  # E5 G4 C4 C3: the tonic triad, melody on its third
    assert measure(chords(on_the_third, V, I), C_MAJOR).tallies["opening_tonic_triad"] == [1, 1]
    assert measure(chords(on_the_third, V, I), C_MAJOR).tallies["opening_tonic"] == [0, 0]
    over_the_fifth = (76, 72, 67, 55)  # E5 over G3: the tonic triad in 6/4, not over the tonic
    assert measure(chords(over_the_fifth, V, I), C_MAJOR).tallies["opening_tonic_triad"] == [0, 1]
    on_the_second = (74, 67, 59, 55)  # D5 over G3: a melody on 2 is not counted
    assert measure(chords(on_the_second, V, I), C_MAJOR).tallies["opening_tonic_triad"] == [0, 0]
