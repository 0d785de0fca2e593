"""Harmonic rhythm: chord starts, tied groups, and variants that honour the rhythm."""

import itertools

import numpy as np
import pytest
import torch

from engine.coconet.composer import Composer
from engine.coconet.ties import Ties, chord_starts, tie_groups
from engine.errors import ScoreError
from engine.music.score import Score
from tests.engine.coconet.test_composer_window import chorale, pair, same_variants  # noqa: F401

ALL = np.ones((4, 36), dtype=bool)


def reel(bars: int = 2, pickup: int = 4) -> Score:
    """A melody in 16ths (a reel), lower voices empty."""
    steps = pickup + 16 * bars
    pitches = np.full((4, steps), -1, dtype=np.int16)
    pitches[0] = 67 + np.array([0, 2, 4, 5, 7, 5, 4, 2])[np.arange(steps) % 8]
    return Score(pitches, pickup=pickup)


def test_chord_starts_follow_the_bar_the_beat_or_the_melody():
    score = reel()
    starts = chord_starts(score, ALL, "2")
    assert np.flatnonzero(starts).tolist() == [0, 4, 12, 20, 28]  # the pickup, then half bars
    assert np.flatnonzero(chord_starts(score, ALL, "1")).tolist() == [0, 4, 20]
    assert np.flatnonzero(chord_starts(score, ALL, "beat")).tolist() == list(range(0, 36, 4))
    assert chord_starts(score, ALL, "free") is None
    # In compound meter the beat is the dotted quarter: two chords a bar in 6/8, four in 12/8.
    for meter, expected in (((6, 8), [0, 6, 12, 18]), ((12, 8), [0, 6, 12, 18, 24, 30, 36, 42])):
        jig = Score.empty(24 if meter == (6, 8) else 48, time_signature=meter)
        full = np.ones((4, jig.num_steps), bool)
        assert np.flatnonzero(chord_starts(jig, full, "beat")).tolist() == expected
    assert np.flatnonzero(chord_starts(Score.empty(24, time_signature=(3, 8)),
                                       np.ones((4, 24), bool), "beat")).tolist() == list(range(0, 24, 2))
    harmonize = ALL.copy()
    harmonize[0] = False
    tune = score.replace(pitches=np.where(np.arange(36) < 8, 72, score.pitches).astype(np.int16))
    assert np.flatnonzero(chord_starts(tune, harmonize, "melody"))[:3].tolist() == [0, 8, 9]
    with pytest.raises(ScoreError, match="kept melody"):
        chord_starts(score, ALL, "melody")
    with pytest.raises(ScoreError, match="do not split"):
        chord_starts(Score.empty(24, time_signature=(3, 4)), np.ones((4, 24), bool), "5")
    with pytest.raises(ScoreError, match="harmonic rhythm"):
        chord_starts(score, ALL, "often")


def test_groups_are_runs_of_generated_cells_between_chord_starts():
    mask = np.zeros((4, 8), dtype=bool)
    mask[1] = True
    mask[2, :5] = True
    mask[3, 3] = True  # a single cell: nothing to tie
    starts = np.zeros(8, dtype=bool)
    starts[[0, 4]] = True
    groups = tie_groups(mask, starts)
    assert (groups[0] == -1).all() and (groups[3] == -1).all()
    assert len(set(groups[1, :4])) == 1 and len(set(groups[1, 4:])) == 1
    assert groups[1, 0] != groups[1, 4]
    assert len(set(groups[2, :4])) == 1 and groups[2, 4] == -1  # one cell left in the second span
    assert tie_groups(mask, None) is None


def test_a_group_draws_from_the_product_of_its_cells_distributions():
    groups = torch.tensor([[0, 0, -1], [-1, -1, -1], [-1, -1, -1], [-1, -1, -1]])
    ties = Ties(groups)
    logits = torch.randn(1, 4, 3, 5)
    tied = ties.logits(logits)
    expected = torch.log_softmax(logits[0, 0, 0], -1) + torch.log_softmax(logits[0, 0, 1], -1)
    assert torch.allclose(tied[0, 0, 0], expected) and torch.allclose(tied[0, 0, 1], expected)
    assert torch.equal(tied[0, 0, 2], logits[0, 0, 2])
    inner = torch.zeros(1, 4, 3, dtype=torch.bool)
    inner[0, 0, 0] = True
    assert ties.mask(inner)[0, 0].tolist() == [True, True, False]
    region = torch.zeros(1, 4, 3, dtype=torch.bool)
    region[0, 0, 1] = True
    assert ties.expand(region)[0, 0].tolist() == [True, True, False]


@pytest.mark.parametrize("chords", ["1", "2", "beat"])
def test_every_variant_holds_each_voice_for_a_whole_chord(pair, chords):  # noqa: F811
    composer = pair[0]
    score = reel()
    result = composer.harmonize(score, keep=(0,), variants=3, steps=10, seed=2, repair=3,
                                chords=chords)
    starts = np.flatnonzero(chord_starts(score, ALL, chords)).tolist() + [score.num_steps]
    for variant in result.variants:
        assert np.array_equal(variant.score.pitches[0], score.pitches[0])
        for v in (1, 2, 3):
            row = variant.score.pitches[v]
            for a, b in itertools.pairwise(starts):
                assert len(set(row[a:b].tolist())) == 1, (chords, v, a, row[a:b])
    free = composer.harmonize(score, keep=(0,), variants=3, steps=10, seed=2, repair=3)
    moves = [len(set(v.score.pitches[2, 4:20].tolist())) for v in free.variants]
    assert max(moves) > 1  # left free, this model does not hold a voice through a bar


def test_a_tied_window_equals_the_tied_whole_piece(pair):  # noqa: F811
    score = chorale(8)
    mask = score.region_mask(*score.bar_range(3, 4), (1, 2))
    windowed, whole = (c.infill(score, mask, variants=2, steps=6, seed=4, repair=2, chords="2")
                       for c in pair)
    same_variants(windowed, whole)


def test_the_ancestral_sampler_refuses_a_harmonic_rhythm(pair):  # noqa: F811
    with pytest.raises(ScoreError, match="gibbs"):
        pair[0].harmonize(reel(), variants=1, steps=4, sampler="ancestral", chords="2")
    assert isinstance(pair[0], Composer)


def test_under_a_fermata_every_generated_voice_holds_one_note(pair):  # noqa: F811
    """The chord struck with a fermata's note is held to its end (free rhythm elsewhere); the
    repair keeps it held; the ancestral sampler is left as it was."""
    composer = pair[0]
    score = reel()
    marks = np.zeros(score.num_steps, dtype=bool)
    marks[12:20] = True  # over the second half of the first full bar
    pitches = score.pitches.copy()
    pitches[0, 12:20] = 72  # one melody note under the fermata
    onsets = score.onsets.copy()
    onsets[0, 12:20] = False
    onsets[0, 12] = True
    held = score.replace(pitches=pitches, onsets=onsets, fermatas=marks)
    result = composer.harmonize(held, keep=(0,), variants=3, steps=10, seed=2, repair=3,
                                ending="free", opening="free")
    for variant in result.variants:
        for v in (1, 2, 3):
            under = variant.score.pitches[v, 12:20]
            assert len(set(under.tolist())) == 1, (v, under)
            assert not variant.score.onsets[v, 13:20].any()
    free = composer.harmonize(held.replace(fermatas=None), keep=(0,), variants=3, steps=10,
                              seed=2, repair=3, ending="free", opening="free")
    assert max(len(set(v.score.pitches[2, 12:20].tolist())) for v in free.variants) > 1
    ancestral = composer.harmonize(held, keep=(0,), variants=1, steps=10, seed=2,
                                   sampler="ancestral", repair=0)
    assert len(ancestral.variants) == 1  # no harmonic-rhythm refusal for a fermata
