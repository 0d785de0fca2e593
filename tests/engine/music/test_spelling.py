"""Notes spelled for the key: F major, D major, E-flat minor, C-sharp minor, and no key."""

import pytest

from engine.music.spelling import parse_key, spell, spell_class


def scale(key: str, pitches) -> list[str]:
    return [spell_class(p, key) for p in pitches]


def test_f_major_has_b_flat_not_a_sharp():
    assert scale("F", [65, 67, 69, 70, 72, 74, 76]) == ["F", "G", "A", "Bb", "C", "D", "E"]
    assert spell(70, "F") == "Bb4" and spell(70, "F", ascii_only=False) == "B\u266d4"
    assert spell_class(71, "F") == "B"  # the raised fourth keeps its letter


def test_d_major_has_sharps():
    assert scale("D", [62, 64, 66, 67, 69, 71, 73]) == ["D", "E", "F#", "G", "A", "B", "C#"]
    assert spell_class(70, "D") == "A#" and spell_class(65, "D") == "F"


def test_e_flat_minor_has_six_flats_and_a_d_natural_leading_note():
    pitches = [63, 65, 66, 68, 70, 71, 73]
    assert scale("Ebm", pitches) == ["Eb", "F", "Gb", "Ab", "Bb", "Cb", "Db"]
    assert spell_class(62, "Ebm") == "D" and spell_class(72, "Ebm") == "C"  # raised 7th and 6th
    assert spell(71, "Ebm") == "Cb5" and spell(59, "Ebm") == "Cb4"  # Cb4 is MIDI 59
    assert scale("E- minor", pitches) == scale("Ebm", pitches)  # music21's name for the key


def test_c_sharp_minor_leading_note_is_b_sharp():
    pitches = [61, 63, 64, 66, 68, 69, 71]
    assert scale("C#m", pitches) == ["C#", "D#", "E", "F#", "G#", "A", "B"]
    assert spell(72, "C#m") == "B#4" and spell(60, "C#m") == "B#3"  # B#3 is MIDI 60
    assert spell_class(70, "c# minor") == "A#"


@pytest.mark.parametrize("key", [None, "", "H", "nonsense"])
def test_no_key_is_c_major_with_the_usual_chromatic_names(key):
    assert [spell_class(p, key) for p in range(60, 72)] == [
        "C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B",
    ]
    assert parse_key(key) == ("C", 0, False)
