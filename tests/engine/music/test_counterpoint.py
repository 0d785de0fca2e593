"""Part-writing checks on small hand-written examples."""

import json

import numpy as np
import pytest

from engine.music.counterpoint import KINDS, check_score, note_name, pooled_rates
from engine.music.score import Score


def chords(*columns, steps=4, **meta) -> Score:
    """One quarter note (4 steps) per column [S, A, T, B]; -1 = rest."""
    pitches = np.repeat(np.array(columns, dtype=np.int16).T, steps, axis=1)
    return Score(pitches, **meta)


def kinds(report):
    return [(f.kind, f.voices, f.location) for f in report.findings]


def test_a_good_cadence_has_no_findings():
    report = check_score(chords([72, 67, 64, 48], [72, 69, 65, 53], [71, 67, 62, 55], [72, 67, 64, 48]))
    assert report.findings == [] and report.quarter_notes == 4
    assert set(report.counts) == set(KINDS) and not any(report.counts.values())


def test_textbook_parallel_fifths_and_octaves_are_found():
    # C major to D minor in root position, every voice up a step: T-B fifths, A-B octaves.
    report = check_score(chords([64, 60, 55, 48], [65, 62, 57, 50]))
    assert kinds(report) == [
        ("parallel_fifths", (2, 3), "1:2"),
        ("parallel_octaves", (1, 3), "1:2"),
    ]
    fifths = report.findings[0]
    assert fifths.step == 4 and fifths.detail == "T-B fifths G3/C3 -> A3/D3"
    assert fifths.previous == 0


def test_parallel_unisons_are_called_unisons_and_octaves_octaves():
    report = check_score(chords([72, 57, 57, 45], [74, 55, 55, 43]))
    details = [f.detail for f in report.findings if f.kind == "parallel_octaves"]
    assert "A-T unisons A3/A3 -> G3/G3" in details
    assert "A-B octaves A3/A2 -> G3/G2" in details


def test_compound_fifths_between_outer_voices_count():
    report = check_score(chords([67, -1, -1, 48], [69, -1, -1, 50]))
    assert kinds(report) == [("parallel_fifths", (0, 3), "1:2")]


def test_contrary_and_oblique_motion_are_not_parallels():
    contrary = chords([67, -1, -1, 48], [69, -1, -1, 45], [67, -1, -1, 48])  # fifth, octave, fifth
    oblique = chords([67, -1, -1, 48], [67, -1, -1, 50])  # the soprano holds
    assert check_score(contrary).findings == [] and check_score(oblique).findings == []


def test_fifths_by_contrary_motion_are_counted_as_documented():
    report = check_score(chords([67, -1, -1, 48], [74, -1, -1, 43]))  # 12th to 12th, opposite ways
    assert kinds(report) == [("parallel_fifths", (0, 3), "1:2")]


def test_a_repeated_fifth_is_not_a_parallel_and_a_rest_breaks_the_line():
    restruck = Score(np.repeat(np.array([[67, 67], [-1, -1], [-1, -1], [48, 48]]), 4, axis=1))
    onsets = restruck.onsets.copy()
    onsets[:, 4] = restruck.pitches[:, 4] >= 0
    assert check_score(restruck.replace(pitches=restruck.pitches, onsets=onsets)).findings == []
    broken = chords([67, -1, -1, 48], [-1, -1, -1, 48], [69, -1, -1, 50])
    assert check_score(broken).findings == []


def test_voice_crossing_range_and_spacing():
    crossing = check_score(chords([64, 67, 55, 48]))
    assert ("voice_crossing", (0, 1), "1:1") in kinds(crossing)
    low_bass = check_score(chords([72, 67, 64, 36]))
    assert kinds(low_bass) == [("out_of_range", (3,), "1:1")]
    assert low_bass.findings[0].detail == "B C2 below E2-C4"
    spaced = check_score(chords([79, 64, 60, 40], [79, 64, 50, 38]))
    spacing = [k for k in kinds(spaced) if k[0] == "spacing"]
    assert spacing == [("spacing", (0, 1), "1:1"), ("spacing", (1, 2), "1:2")]


def test_locations_follow_meter_and_pickup():
    score = chords([64, 60, 55, 48], [65, 62, 57, 50], steps=4, time_signature=(3, 4), pickup=4)
    assert [f.location for f in check_score(score).findings] == ["1:1", "1:1"]


def test_rates_are_per_100_quarter_notes_and_pool():
    one = check_score(chords([64, 60, 55, 48], [65, 62, 57, 50]))  # 2 findings in 2 quarters
    assert one.rates["parallel_fifths"] == pytest.approx(50.0)
    clean = check_score(chords([72, 67, 64, 48], [72, 69, 65, 53]))
    assert pooled_rates([one, clean])["parallel_octaves"] == pytest.approx(25.0)
    data = json.loads(json.dumps(one.to_dict()))
    assert data["counts"]["parallel_fifths"] == 1 and data["findings"][0]["voices"] == "TB"
    assert one.at_step(4) == one.findings


def test_note_names():
    assert [note_name(p) for p in (60, 61, 40, 79)] == ["C4", "C#4", "E2", "G5"]


def test_findings_spell_notes_in_the_key_given_or_estimated():
    # Soprano above its range on A-flat: spelled Ab in E-flat major, G# in A major.
    pitches = np.array([[80] * 4, [72] * 4, [63] * 4, [56] * 4], dtype=np.int16)
    flat = check_score(Score(pitches, key="Eb")).findings
    sharp = check_score(Score(pitches, key="A")).findings
    assert any("S Ab5 above" in f.detail for f in flat), [f.detail for f in flat]
    assert any("S G#5 above" in f.detail for f in sharp), [f.detail for f in sharp]
    assert note_name(68) == "G#4" and note_name(68, "Eb") == "Ab4"
