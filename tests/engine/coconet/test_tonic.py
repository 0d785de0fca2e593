"""An opening on the tonic: the bass starts on the key's tonic when the melody does."""

import numpy as np
import pytest
import torch

from engine.coconet.composer import Composer
from engine.coconet.model import Coconet, CoconetConfig
from engine.coconet.tonic import tonic_ending, tonic_opening
from engine.errors import ScoreError
from engine.music.score import Score


def melody(notes, key=None, pickup=0) -> Score:
    """A soprano of (pitch, 16ths) notes; the other voices empty."""
    row = np.concatenate([np.full(length, pitch, dtype=np.int16) for pitch, length in notes])
    pitches = np.full((4, row.size), -1, dtype=np.int16)
    pitches[0] = row
    return Score(pitches, key=key, pickup=pickup)


def soprano_only(score: Score) -> np.ndarray:
    mask = np.ones(score.pitches.shape, dtype=bool)
    mask[0] = False
    return mask


C_TUNE = [(72, 4), (74, 4), (76, 8), (74, 4), (71, 4), (72, 8)]  # C D E - D B C -


def test_a_melody_on_the_tonic_gets_the_tonic_in_the_bass_under_its_first_note():
    score = melody(C_TUNE, key="C")
    pinned, mask = tonic_opening(score, soprano_only(score))
    assert (pinned.pitches[3, :4] == 48).all() and pinned.onsets[3, 0]  # C3 under the first C
    assert not mask[3, :4].any() and mask[3, 4:].all() and mask[1:3].all()
    assert np.array_equal(pinned.pitches[:3], score.pitches[:3])


@pytest.mark.parametrize(("key", "first", "bass"), [
    ("G", 67, 43), ("F", 65, 53), ("A", 69, 45), ("Dm", 74, 50), ("F#m", 78, 42)])  # a tie goes low
def test_the_bass_tonic_nearest_c3_is_chosen(key, first, bass):
    score = melody([(first, 4), (first + 2, 4), (first, 8)], key=key)
    pinned, _ = tonic_opening(score, soprano_only(score))
    assert pinned.pitches[3, 0] == bass


def test_nothing_is_pinned_off_the_tonic_triad_or_when_the_bass_is_kept():
    score = melody([(74, 4)] + C_TUNE, key="C")  # starts on D
    assert tonic_opening(score, soprano_only(score)) is None
    score = melody([(71, 4)] + C_TUNE, key="Am")  # B: not in A minor's tonic triad
    assert tonic_opening(score, soprano_only(score)) is None
    score = melody(C_TUNE, key="C")
    mask = soprano_only(score)
    mask[3] = False  # the bass is kept (S+B)
    assert tonic_opening(score, mask) is None
    nothing = np.ones(score.pitches.shape, dtype=bool)  # compose: no melody
    assert tonic_opening(score, nothing) is None


@pytest.mark.parametrize(("key", "first"), [("C", 76), ("C", 79), ("Am", 72), ("Am", 76)])
def test_a_melody_on_the_third_or_fifth_gets_the_tonic_in_the_bass_too(key, first):
    score = melody([(first, 4)] + C_TUNE, key=key)
    pinned, mask = tonic_opening(score, soprano_only(score))
    assert pinned.pitches[3, 0] % 12 == (0 if key == "C" else 9) and not mask[3, :4].any()


def test_the_key_is_estimated_from_the_melody_when_the_score_has_none():
    pickup = melody([(67, 4)] + [(p + 7, n) for p, n in C_TUNE], pickup=4)  # G major, after a pickup
    pinned, _ = tonic_opening(pickup, soprano_only(pickup))
    assert pinned.pitches[3, 0] == 43 and (pinned.pitches[3, 4:] == -1).all()


def test_harmonize_keeps_the_opening_and_free_leaves_it_to_the_model():
    torch.manual_seed(0)
    composer = Composer(model=Coconet(CoconetConfig(depth=2, width=8)).eval())
    score = melody(C_TUNE * 2, key="C")
    result = composer.harmonize(score, variants=2, steps=4, seed=3)
    for variant in result.variants:
        assert (variant.score.pitches[3, :4] == 48).all()
        assert np.array_equal(variant.score.pitches[0], score.pitches[0])
    free = composer.harmonize(score, variants=4, steps=4, seed=3, opening="free")
    assert any((v.score.pitches[3, :4] != 48).any() for v in free.variants)  # an untrained net
    with pytest.raises(ScoreError, match="opening must be one of tonic, free"):
        composer.harmonize(score, opening="major")


def test_under_a_harmonic_rhythm_the_tonic_lasts_the_first_chord():
    from engine.coconet.ties import chord_starts

    score = melody(C_TUNE * 2, key="C")
    mask = soprano_only(score)
    pinned, pinned_mask = tonic_opening(score, mask, chord_starts(score, mask, "1"))
    assert (pinned.pitches[3, :16] == 48).all() and pinned_mask[3, 16:].all()
    late = melody([(-1, 2), (72, 6)] + C_TUNE, key="C")  # the melody starts inside the first beat
    assert tonic_opening(late, soprano_only(late), chord_starts(late, soprano_only(late), "beat")) is None
    torch.manual_seed(0)
    composer = Composer(model=Coconet(CoconetConfig(depth=2, width=8)).eval())
    for variant in composer.harmonize(score, variants=2, steps=4, chords="1").variants:
        assert (variant.score.pitches[3, :16] == 48).all()  # one bass note in the first bar


def test_a_melody_ending_on_the_tonic_triad_gets_the_tonic_in_the_bass_under_its_last_note():
    score = melody(C_TUNE, key="C")  # ends on C, 8 sixteenths from step 24
    pinned, mask = tonic_ending(score, soprano_only(score))
    assert (pinned.pitches[3, 24:32] == 48).all() and pinned.onsets[3, 24]
    assert not mask[3, 24:].any() and mask[3, :24].all() and mask[1:3].all()
    assert np.array_equal(pinned.pitches[:3], score.pitches[:3])
    for last in (76, 79, 67):  # the third and the fifth end on the tonic too
        ending = melody(C_TUNE[:-1] + [(last, 8)], key="C")
        assert tonic_ending(ending, soprano_only(ending))[0].pitches[3, 24] == 48


@pytest.mark.parametrize(("key", "last", "pinned"), [
    ("Am", 72, True), ("Am", 73, True), ("Am", 71, False), ("C", 74, False), ("C", 71, False)])
def test_a_last_note_outside_the_tonic_triad_gets_no_pinned_ending(key, last, pinned):
    score = melody(C_TUNE[:-1] + [(last, 8)], key=key)  # in A minor C# is the Picardy third
    assert (tonic_ending(score, soprano_only(score)) is not None) == pinned


def test_a_melody_that_ends_in_the_dominant_gets_no_home_tonic_under_its_last_note():
    """C major, ending F#-A-G: the tune has gone to G; a home-key C under its final G would need
    the augmented and minor detours the model wrote to reach it."""
    gone = melody([(72, 8), (74, 8), (76, 8), (78, 4), (81, 4), (79, 16)], key="C")
    assert tonic_ending(gone, soprano_only(gone)) is None
    stays = melody([(72, 8), (74, 8), (77, 8), (76, 4), (74, 4), (79, 16)], key="C")  # F natural
    assert tonic_ending(stays, soprano_only(stays)) is not None
    early = melody([(78, 4), (79, 4)] + [(72, 16)] * 2 + [(74, 8), (79, 8)], key="C")  # F# long ago
    assert tonic_ending(early, soprano_only(early)) is not None


def test_the_ending_lasts_the_last_note_to_its_end_even_before_trailing_silence():
    score = melody(C_TUNE + [(-1, 8)], key="C")
    pinned, mask = tonic_ending(score, soprano_only(score))
    assert (pinned.pitches[3, 24:32] == 48).all() and (pinned.pitches[3, 32:] == -1).all()
    assert mask[3, 32:].all()
    kept_bass = soprano_only(score)
    kept_bass[3, 28] = False  # part of the bass is kept under the last note
    assert tonic_ending(score, kept_bass) is None
    rewritten_tail = soprano_only(score)
    rewritten_tail[0, 16:] = True  # the melody's end is being generated: its last kept note is D
    assert tonic_ending(score, rewritten_tail) is None


def test_under_a_harmonic_rhythm_the_final_tonic_lasts_the_last_chord():
    from engine.coconet.ties import chord_starts

    score = melody(C_TUNE * 2, key="C")  # the last C starts on beat 3 of bar 2
    mask = soprano_only(score)
    assert tonic_ending(score, mask, chord_starts(score, mask, "1")) is None  # inside a bar's chord
    pinned, pinned_mask = tonic_ending(score, mask, chord_starts(score, mask, "2"))
    assert (pinned.pitches[3, 56:64] == 48).all() and pinned_mask[3, :56].all()


def test_harmonize_ends_on_the_tonic_and_free_leaves_it_to_the_model():
    torch.manual_seed(0)
    composer = Composer(model=Coconet(CoconetConfig(depth=2, width=8)).eval())
    score = melody([(76, 4)] + C_TUNE * 2, key="C")  # starts on E: no pinned opening
    for variant in composer.harmonize(score, variants=2, steps=4, seed=3).variants:
        assert (variant.score.pitches[3, -8:] == 48).all()
        assert np.array_equal(variant.score.pitches[0], score.pitches[0])
    free = composer.harmonize(score, variants=4, steps=4, seed=3, ending="free")
    assert any((v.score.pitches[3, -8:] != 48).any() for v in free.variants)  # an untrained net
    with pytest.raises(ScoreError, match="ending must be one of tonic, free"):
        composer.harmonize(score, ending="V")


def test_a_pin_that_would_leave_nothing_to_write_is_not_made():
    torch.manual_seed(0)
    composer = Composer(model=Coconet(CoconetConfig(depth=2, width=8)).eval())
    pitches = melody([(72, 4)]).pitches.copy()
    pitches[1:3] = [[64], [55]]  # soprano, alto and tenor kept: only the bass's one note to write
    score = Score(pitches, key="C")
    result = composer.harmonize(score, keep=(0, 1, 2), variants=1, steps=2)
    assert result.variants[0].score.pitches[3, 0] >= 0
