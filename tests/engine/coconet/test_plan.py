"""A piece composed from nothing gets a key, phrase ends where Bach puts them, and a tonic at both ends."""

from collections import Counter

import numpy as np
import pytest
import torch

from engine.coconet.composer import Composer
from engine.coconet.model import Coconet, CoconetConfig
from engine.coconet.plan import (
    CHORALE_KEYS,
    compose_key,
    drawn_key,
    phrase_ends,
    pin_tonic_ending,
    pin_tonic_opening,
    planned,
)
from engine.errors import ScoreError
from engine.music.score import Score


def blank(bars: int, meter=(4, 4), pickup: int = 0) -> Score:
    one = Score.empty(1, time_signature=meter, pickup=pickup)
    return Score.empty(pickup + bars * one.steps_per_bar, **one.meta())


def runs(marks: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], marks.astype(int), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def test_four_four_phrases_of_two_bars_close_on_a_half_note_on_beat_three():
    assert runs(phrase_ends(blank(8))) == [(24, 32), (56, 64), (88, 96), (120, 128)]


def test_a_one_beat_pickup_is_taken_from_each_phrase_end_but_not_from_the_last():
    # Bar 2 starts at step 4 + 16 = 20: the fermata is a quarter on its beat 3, beat 4 is the pickup.
    assert runs(phrase_ends(blank(8, pickup=4))) == [(28, 32), (60, 64), (92, 96), (124, 132)]


def test_three_four_phrases_are_four_bars_and_close_on_the_downbeat():
    assert runs(phrase_ends(blank(8, (3, 4)))) == [(36, 48), (84, 96)]
    assert runs(phrase_ends(blank(8, (3, 4), pickup=4))) == [(40, 48), (88, 100)]


def test_a_short_last_phrase_joins_the_one_before_and_phrase_zero_marks_only_the_end():
    assert runs(phrase_ends(blank(5))) == [(24, 32), (72, 80)]  # 2 + 3 bars, not 2 + 2 + 1
    assert runs(phrase_ends(blank(8), 4)) == [(56, 64), (120, 128)]
    assert runs(phrase_ends(blank(8), 0)) == [(120, 128)]
    assert runs(phrase_ends(blank(1))) == [(8, 16)]
    with pytest.raises(ScoreError, match="bars a phrase"):
        phrase_ends(blank(8), -1)


def test_a_drawn_key_follows_the_seed_and_the_chorales_frequencies():
    assert drawn_key(7) == drawn_key(7)
    names = dict(CHORALE_KEYS)
    drawn = Counter(drawn_key(seed) for seed in range(3000))
    assert set(drawn) <= set(names)
    total = sum(names.values())
    for name, count in names.items():  # within 5 standard errors of the chorales' share
        share, expected = drawn[name] / 3000, count / total
        assert abs(share - expected) < 5 * np.sqrt(expected * (1 - expected) / 3000), name
    assert compose_key("d minor", 0) == "Dm" and compose_key("Bb", 0) == "Bb"
    with pytest.raises(ScoreError, match="unknown key"):
        compose_key("H minor", 0)


def test_the_tonic_is_pinned_in_bass_and_melody_at_the_end_and_in_the_bass_at_the_start():
    score = planned(blank(4, pickup=4), "Dm", None)
    mask = np.ones(score.pitches.shape, dtype=bool)
    end, mask = pin_tonic_ending(score, mask)
    assert runs(end.fermatas)[-1] == (60, 68)
    assert (end.pitches[0, 60:] == 74).all() and (end.pitches[3, 60:] == 50).all()  # D5 over D3
    assert end.onsets[0, 60] and end.onsets[3, 60] and not end.onsets[3, 61:].any()
    assert not mask[[0, 3], 60:].any() and mask[[1, 2], 60:].all() and mask[:, :60].all()
    start, mask = pin_tonic_opening(end, mask)
    assert (start.pitches[3, :4] == 50).all() and not mask[[0, 3], :4].any()  # the pickup's beat
    assert (start.pitches[1:3, :4] == -1).all() and mask[1:3, :4].all()
    assert start.pitches[0, 0] in (74, 65, 69) and (start.pitches[0, :4] == start.pitches[0, 0]).all()


def test_the_first_melody_note_is_tonic_fifth_or_third_as_often_as_in_bach():
    score = planned(blank(2), "C", None)
    mask = np.ones(score.pitches.shape, dtype=bool)
    firsts = Counter(int(pin_tonic_opening(score, mask, seed)[0].pitches[0, 0]) for seed in range(600))
    assert set(firsts) == {72, 67, 64}  # C5, G4, E4: each nearest A4
    assert firsts[72] > firsts[67] > firsts[64]  # 125 : 63 : 34 in Bach's


def test_a_kept_voice_is_never_pinned_over():
    score = planned(blank(2), "G", None)
    mask = np.ones(score.pitches.shape, dtype=bool)
    mask[0] = False  # the melody is the user's
    same, same_mask = pin_tonic_ending(score, mask)
    assert same is score and np.array_equal(same_mask, mask)


@pytest.fixture(scope="module")
def composer():
    torch.manual_seed(0)
    return Composer(model=Coconet(CoconetConfig(depth=2, width=8, cond_planes=10)), threads=1)


def test_compose_writes_the_plan_into_the_score_and_says_so(composer):
    result = composer.compose(4, (4, 4), 0, key="E minor", variants=1, steps=2, seed=3)
    score = result.variants[0].score
    assert score.key == "Em" and runs(score.fermatas) == [(24, 32), (56, 64)]
    assert (score.pitches[0, 56:] == 64).all() and (score.pitches[3, 56:] == 52).all()
    assert (score.pitches[3, :4] == 52).all() and score.pitches[0, 0] % 12 in (4, 7, 11)
    assert result.messages[0] == "composed in E minor, 2 phrases of 2 bars"
    drawn = composer.compose(2, (3, 4), 0, variants=1, steps=2, seed=3, phrase=0)
    assert drawn.variants[0].score.key == drawn_key(3)
    assert drawn.messages[0].endswith("one phrase")


def test_compose_free_leaves_both_ends_to_the_model_and_bad_options_are_refused(composer):
    free = composer.compose(2, (4, 4), 0, key="C", opening="free", ending="free", variants=1,
                            steps=2, seed=0)
    score = free.variants[0].score
    assert score.key == "C" and score.fermatas is not None
    with pytest.raises(ScoreError, match="ending must be"):
        composer.compose(2, ending="dominant", variants=1, steps=2)
    with pytest.raises(ScoreError, match="unknown key"):
        composer.compose(2, key="X", variants=1, steps=2)


def test_under_a_harmonic_rhythm_the_lower_voices_hold_each_chord_and_the_melody_is_free(composer):
    from engine.coconet.ties import held_under_fermatas, tie_groups

    result = composer.compose(4, (4, 4), 0, key="G", chords="1", variants=1, steps=3, seed=1)
    score = result.variants[0].score
    for bar in range(4):
        cells = score.pitches[1:, 16 * bar:16 * (bar + 1)]
        assert (cells == cells[:, :1]).all(), bar  # alto, tenor, bass: one note a bar
    assert (score.pitches[3, :16] == 43).all()  # the opening tonic lasts the first chord
    assert (score.pitches[[0, 3], 48:] % 12 == 7).all()  # the last chord, from its start
    # The melody's cells are tied only under fermatas, the lower voices' through each bar.
    mask = np.ones(score.pitches.shape, dtype=bool)
    starts = np.zeros(64, dtype=bool)
    starts[::16] = True
    groups = tie_groups(mask, starts, melody_starts=held_under_fermatas(score, None))
    assert (groups[0, :24] == -1).all()  # free up to the first fermata (steps 24..31)
    assert len(set(groups[0, 24:32].tolist())) == 1 and groups[0, 24] >= 0
    assert len(set(groups[1, :16].tolist())) == 1 and groups[1, 0] >= 0
