"""The Bach-against-Bach benchmark's pairing: one melody set twice, found up to transposition."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))

import bach_pairs


def chorale(soprano, lower, shift=0):
    """(T, 4) data rows: a soprano and three lower voices, 0 for a rest, transposed by `shift`."""
    rows = np.column_stack([soprano, *lower]).astype(int)
    return np.where(rows > 0, rows + shift, 0).tolist()


SOPRANO = [72, 72, 74, 74, 76, 76, 0, 77, 79, 79, 77, 76, 74, 74, 72, 72]
LOWER_A = [[67] * 16, [64] * 16, [48] * 16]
LOWER_B = [[65] * 16, [60] * 16, [53] * 16]


def test_one_melody_set_twice_is_a_group_even_transposed():
    pieces = {"train": [chorale(SOPRANO, LOWER_A), chorale([60] * 16, LOWER_A)],
              "test": [chorale(SOPRANO, LOWER_B, shift=-2)]}
    assert bach_pairs.same_melody_groups(pieces) == [[("train", 0), ("test", 0)]]


def test_a_rest_in_another_place_is_another_melody():
    moved = list(SOPRANO)
    moved[6], moved[7] = 77, 0
    pieces = {"train": [chorale(SOPRANO, LOWER_A), chorale(moved, LOWER_B)]}
    assert bach_pairs.same_melody_groups(pieces) == []


def test_aligned_moves_a_setting_to_the_reference_pitch_and_marks_rests():
    reference = chorale(SOPRANO, LOWER_A)
    moved = bach_pairs.aligned(chorale(SOPRANO, LOWER_B, shift=-2), reference)
    assert moved.shape == (4, 16)
    assert moved[0].tolist() == [p if p > 0 else -1 for p in SOPRANO]
    assert moved[1, 0] == 65 and moved[3, 0] == 53


def test_a_setting_against_itself_agrees_everywhere_and_differs_nowhere():
    piece = chorale(SOPRANO * 4, [v * 4 for v in LOWER_A])
    score = bach_pairs.score_of(bach_pairs.aligned(piece, piece), None)
    figures = bach_pairs.compare(score, score)
    assert figures["differ"] == 0.0
    assert figures["key_global"] == 1.0
    assert figures["key_local"] == 1.0


def test_pairs_measure_distinct_settings_both_ways():
    a = chorale(SOPRANO * 4, [v * 4 for v in LOWER_A])
    b = chorale(SOPRANO * 4, [v * 4 for v in LOWER_B], shift=3)
    rows = bach_pairs.pairs({"train": [a], "valid": [b]}, {"train": [None], "valid": [None]})
    assert len(rows) == 1
    assert rows[0]["pair"] == (("train", 0), ("valid", 0))
    differ = rows[0]["differ"]
    assert differ[0] == differ[1] == 1.0  # every lower cell differs once aligned
