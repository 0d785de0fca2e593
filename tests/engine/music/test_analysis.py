"""Key estimation and the phrase-end guess on hand-made melodies."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.errors import ScoreError
from engine.music.analysis import (
    estimate_key,
    key_description,
    parse_key_name,
)
from engine.music.phrase_guess import guess_phrase_ends, learned_phrase_ends, rule_phrase_ends
from engine.music.score import Score

NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def melody(notes: list[tuple[str, int]], **meta) -> Score:
    """A soprano line from ("C#5", steps) pairs; "r" is a rest. Other voices silent."""
    row: list[int] = []
    onsets: list[bool] = []
    for name, steps in notes:
        if name == "r":
            pitch = -1
        else:
            pc = NAMES[name[0]] + name[1:-1].count("#") - name[1:-1].count("b")
            pitch = 12 * (int(name[-1]) + 1) + pc
        row += [pitch] * steps
        onsets += [pitch >= 0] + [False] * (steps - 1)
    pitches = np.full((4, len(row)), -1, dtype=np.int16)
    pitches[0] = row
    on = np.zeros((4, len(row)), dtype=bool)
    on[0] = onsets
    return Score(pitches, on, **meta)


def scale(names: str, octave_of) -> list[tuple[str, int]]:
    return [(n + str(octave_of(i)), 4) for i, n in enumerate(names.split())]


@pytest.mark.parametrize(
    ("notes", "key"),
    [
        ("C D E F G A B C", "C"),
        ("G A B C D E F# G", "G"),
        ("F G A Bb C D E F", "F"),
        ("Eb F G Ab Bb C D Eb", "Eb"),
        ("A B C D E F G# A", "Am"),  # harmonic minor
        ("D E F G A Bb C# D", "Dm"),
        ("F# G# A B C# D E# F#", "F#m"),
    ],
)
def test_key_of_scales(notes, key):
    line = [(n + "4", 4) for n in notes.split()]
    line[-1] = (line[-1][0][:-1] + "5", 8)
    assert estimate_key(melody(line)) == key


def test_relative_minor_and_major_told_apart_by_a_cadential_melody():
    # The same notes (no accidentals) end on C in one and on A in the other.
    major = [("E4", 4), ("G4", 4), ("A4", 4), ("G4", 4), ("F4", 4), ("E4", 4), ("D4", 4),
             ("B3", 4), ("C4", 16)]
    minor = [("E4", 4), ("C5", 4), ("B4", 4), ("A4", 4), ("G#4", 4), ("B4", 4), ("D5", 4),
             ("B4", 4), ("A4", 16)]
    assert estimate_key(melody(major)) == "C"
    assert estimate_key(melody(minor)) == "Am"


def test_a_tune_that_dwells_on_its_relative_minor_but_ends_on_the_tonic_is_major():
    # E D B D B F# E D E G: Krumhansl-Kessler's profiles call this E minor (they did in cantor
    # before), the Temperley-Kostka-Payne profiles with the final note weighted say G.
    line = [(n, 4) for n in ("E5", "D5", "B4", "D5", "B4", "F#5", "E5", "D5", "E5")] + [("G4", 8)]
    assert estimate_key(melody(line)) == "G"
    assert estimate_key(melody(line), profiles="krumhansl") == "Em"


def test_key_of_a_minor_cadence_in_g_minor():
    line = [("D5", 4), ("Bb4", 4), ("G4", 4), ("A4", 4), ("Bb4", 4), ("C5", 4), ("A4", 4),
            ("F#4", 4), ("G4", 16)]
    assert estimate_key(melody(line)) == "Gm"


def test_key_of_silence_is_none_and_other_voices_can_be_asked():
    score = melody([("r", 16)])
    assert estimate_key(score) is None
    pitches = score.pitches.copy()
    pitches[3] = [43] * 4 + [50] * 4 + [43] * 8  # G2 D3 G2 in the bass
    assert estimate_key(score.replace(pitches=pitches), voices=(3,)) in ("G", "Gm")


def test_key_description():
    assert key_description("F") == "F major"
    assert key_description("F#m") == "F# minor"
    assert key_description(None) == ""


def test_key_of_64_bars_is_fast_enough_for_the_ui():
    rng = np.random.default_rng(0)
    pitches = rng.integers(55, 80, size=(4, 64 * 16)).astype(np.int16)
    score = Score(pitches)
    estimate_key(score)
    start = time.perf_counter()
    for _ in range(20):
        estimate_key(score)
    assert (time.perf_counter() - start) / 20 < 0.05


def test_the_rule_marks_phrase_ends_of_a_hand_made_melody():
    # 4/4 with a quarter pickup: two 2-bar phrases, each ending on a half note on beat 3 of an
    # even bar, then a final whole note. The half note in bar 1 starts an odd bar: no phrase end.
    line = [("G4", 4),                                               # pickup
            ("C5", 8), ("D5", 4), ("E5", 4),                         # bar 1
            ("D5", 4), ("C5", 4), ("B4", 8),                         # bar 2: phrase end
            ("r", 4), ("C5", 4), ("E5", 4), ("G5", 4),               # bar 3
            ("F5", 4), ("E5", 4), ("D5", 8),                         # bar 4: phrase end
            ("E5", 4), ("D5", 4), ("C5", 4), ("B4", 4),              # bar 5
            ("C5", 16)]                                              # bar 6: final
    score = melody(line, pickup=4)
    ends = rule_phrase_ends(score)
    marked = [(int(s), int(e)) for s, e in _runs(ends)]
    bar2_half = score.bar_start(2) + 8
    bar4_half = score.bar_start(4) + 8
    final = score.bar_start(6)
    assert marked == [(bar2_half, bar2_half + 8), (bar4_half, bar4_half + 8), (final, final + 16)]


def test_the_rule_needs_a_long_note_and_always_includes_the_last_note():
    # Running eighths: nothing is long, only the final note is marked (even a short one).
    line = [(n, 2) for n in ("C5", "D5", "E5", "F5", "G5", "F5", "E5", "D5") * 4]
    ends = rule_phrase_ends(melody(line))
    assert _runs(ends) == [(62, 64)]
    assert not rule_phrase_ends(melody([("r", 16)])).any()


def test_the_rule_in_compound_meter_needs_a_dotted_quarter():
    # 6/8: bar 2 ends on a quarter (not a beat) in one tune and on a dotted quarter in the other.
    body = [("C5", 2), ("D5", 2), ("E5", 2), ("F5", 2), ("E5", 2), ("D5", 2)]
    short = body + [("C5", 2), ("D5", 2), ("E5", 4), ("r", 4)] + body + [("C5", 12)]
    long = body + [("C5", 2), ("D5", 2), ("E5", 2), ("D5", 6)] + body + [("C5", 12)]
    assert len(_runs(rule_phrase_ends(melody(short, time_signature=(6, 8))))) == 1
    assert _runs(rule_phrase_ends(melody(long, time_signature=(6, 8))))[0] == (18, 24)


def test_the_learned_guess_in_compound_meter_ends_phrases_every_four_bars_on_a_long_note():
    # 6/8, eight bars: running eighths, a dotted half closing bar 4, the same again to a final
    # note. A jig's phrase is four bars (eight dotted-quarter beats): bar 4's long note ends one.
    run = [("C5", 2), ("D5", 2), ("E5", 2), ("F5", 2), ("E5", 2), ("D5", 2)] * 3
    tune = run + [("G5", 12)] + run + [("C5", 12)]
    assert _runs(learned_phrase_ends(melody(tune, time_signature=(6, 8)))) == [(36, 48), (84, 96)]
    # The same tune without the long note at bar 4 (it runs on in eighths) is one phrase.
    plain = run + run[:6] + run + [("C5", 12)]
    assert _runs(learned_phrase_ends(melody(plain, time_signature=(6, 8)))) == [(84, 96)]


# A chorale-like melody of two phrases, 4/4 with a quarter pickup (pickup=4): the first ends on a
# quarter on beat 3 of its second bar (where Bach's fermatas usually stand; not the longest note
# of its bar, so the rule misses it), the next phrase takes beat 4 as its pickup, and the second
# ends on the final half note.
CHORALE_LINE = [("G4", 4),
                ("G4", 4), ("D5", 4), ("B4", 4), ("G4", 4),
                ("A4", 4), ("B4", 4), ("A4", 4),  # fermata on beat 3 of bar 2
                ("B4", 4),
                ("C5", 4), ("B4", 4), ("A4", 4), ("B4", 4),
                ("A4", 4), ("A4", 4), ("G4", 8)]  # final


def test_the_learned_guess_finds_phrase_ends_where_bach_puts_his_fermatas():
    score = melody(CHORALE_LINE, pickup=4)
    ends = _runs(learned_phrase_ends(score))
    assert ends[0] == (score.bar_start(2) + 8, score.bar_start(2) + 12)
    assert ends[-1][1] == score.num_steps and len(ends) == 2


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


@pytest.mark.parametrize(
    ("typed", "key"),
    [("f", "F"), ("F#m", "F#m"), ("d minor", "Dm"), ("Bb major", "Bb"), ("B- major", "Bb"),
     ("ebm", "Ebm"), ("C#M", "C#m")],
)
def test_key_names_as_users_type_them(typed, key):
    assert parse_key_name(typed) == key


def test_an_unknown_key_name_says_what_to_type():
    with pytest.raises(ScoreError, match="unknown key 'H dur': use a name such as F, Bb"):
        parse_key_name("H dur")


def test_the_guess_the_composer_shows_is_the_learned_one():
    score = melody(CHORALE_LINE, pickup=4)
    assert np.array_equal(guess_phrase_ends(score), learned_phrase_ends(score))
    assert not np.array_equal(guess_phrase_ends(score), rule_phrase_ends(score))
