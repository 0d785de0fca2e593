"""The musicality benchmark's folk keys: Essen's `K:` names the tonic; the sung third, the mode."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))

import folk_tunes

pytest.importorskip("music21")


def tune(body: str, key: str = "A"):
    from music21 import converter

    return converter.parse(f"X:1\nT:t\nM:3/4\nL:1/16\nK:{key}\n{body}\n", format="abc")


def test_a_minor_tune_under_a_major_key_field_is_minor():
    # Essen writes "K: A" for a tune on A whatever its mode, and the mode's naturals out
    _, key = folk_tunes.melody_score(tune("A3B =c4A4 | E4 A3B A4 | =c3d e4=c4 | B3=c A8 |"))
    assert key == (9, True)


def test_the_same_tune_with_the_major_third_is_major():
    _, key = folk_tunes.melody_score(tune("A3B c4A4 | E4 A3B A4 | c3d e4c4 | B3c A8 |"))
    assert key == (9, False)


def test_a_tune_ending_on_the_relative_minor_of_its_signature_is_in_that_minor():
    _, key = folk_tunes.melody_score(tune("F3G A4F4 | C4 F3G F4 | A3G F4A4 | E3F D8 |", key="F"))
    assert key == (2, True)
