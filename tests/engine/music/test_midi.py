"""MIDI in and out: exact round trips, foreign files, Bach chorales from music21.

Damaged files are in test_midi_damaged.py."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import mido
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import MidiFileError
from engine.music.midi import (
    LoadReport,
    load_midi,
    load_midi_report,
    midi_bytes,
    midi_key_name,
    save_midi,
)
from engine.music.score import Score

KEYS = ["C", "G", "F#", "Bb", "Cb", "Am", "F#m", "Ebm", "D#m"]
METERS = [(4, 4), (3, 4), (6, 8), (2, 2), (2, 4), (5, 8), (12, 8), (7, 16)]


@st.composite
def scores(draw) -> Score:
    """Random scores: runs of pitches from a small pool (so repeats are common) and silences,
    with random re-strikes inside runs (repeated notes); any meter above, pickups, tempi, keys.
    Hypothesis draws the shape; numpy fills the notes from a drawn seed (much faster to draw)."""
    steps = draw(st.integers(0, 72))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pool = [*rng.integers(0, 128, draw(st.integers(1, 4))), *draw(st.sampled_from([[], [0, 127]]))]
    rows = []
    for _ in range(4):
        row: list[int] = []
        while len(row) < steps:
            row += [int(rng.choice([-1, *pool]))] * int(rng.integers(1, 10))
        rows.append(row[:steps])
    pitches = np.array(rows, dtype=np.int16).reshape(4, steps)
    onsets = rng.random((4, steps)) < draw(st.sampled_from([0.0, 0.3, 1.0]))
    meter = draw(st.sampled_from(METERS))
    pickup = draw(st.integers(0, meter[0] * 16 // meter[1] - 1)) if draw(st.booleans()) else 0
    tempo = draw(
        st.one_of(st.integers(10, 400).map(float), st.integers(1000, 40000).map(lambda c: c / 100))
    )
    return Score(
        pitches,
        onsets,
        time_signature=meter,
        pickup=pickup,
        tempo_bpm=tempo,
        key=draw(st.sampled_from([None, *KEYS])),
        programs=tuple(draw(st.lists(st.integers(0, 127), min_size=4, max_size=4))),
        title=draw(st.text(max_size=12)),
    )


_ROUND_TRIP_DIR = tempfile.TemporaryDirectory(prefix="cantor-midi-test-")


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scores())
def test_save_then_load_is_the_identity(score):
    path = Path(_ROUND_TRIP_DIR.name) / "round.mid"
    save_midi(score, path)
    loaded, report = load_midi_report(path)
    assert loaded == score, (loaded.meta(), score.meta())
    assert report.changes == [] and report.source == "cantor file"


def test_repeated_notes_stay_repeated(tmp_path):
    pitches = np.array([[60] * 8, [55] * 8, [-1] * 8, [48] * 8])
    onsets = np.zeros((4, 8), bool)
    onsets[:, [0, 2, 3, 6]] = True
    score = Score(pitches, onsets)
    save_midi(score, tmp_path / "r.mid")
    loaded = load_midi(tmp_path / "r.mid")
    assert [n[0] for n in loaded.notes(0)] == [0, 2, 3, 6]
    assert loaded.same_notes(score)


def test_saved_file_layout():
    score = Score(
        np.array([[72] * 8, [67] * 8, [60] * 8, [48] * 8]),
        pickup=4,
        time_signature=(3, 4),
        tempo_bpm=100,
        key="Bb",
        title="Hymn",
        programs=(52, 53, 54, 32),
    )
    midi = mido.MidiFile(file=__import__("io").BytesIO(midi_bytes(score)))
    assert (midi.type, midi.ticks_per_beat, len(midi.tracks)) == (1, 480, 5)
    conductor = {m.type: m for m in midi.tracks[0]}
    assert conductor["track_name"].name == "Hymn"
    assert conductor["key_signature"].key == "Bb"
    assert conductor["set_tempo"].tempo == 600000
    signatures = [
        (m.numerator, m.denominator) for m in midi.tracks[0] if m.type == "time_signature"
    ]
    assert signatures == [(1, 4), (3, 4)]  # the pickup bar, then the meter
    for v, (track, name) in enumerate(zip(midi.tracks[1:], ["Soprano", "Alto", "Tenor", "Bass"])):
        assert track.name == name
        program = next(m for m in track if m.type == "program_change")
        assert (program.channel, program.program) == (v, score.programs[v])
        assert {m.channel for m in track if m.type.startswith("note")} == {v}
    # a 16th is 120 ticks: the first note lasts 8 steps
    first = [m for m in midi.tracks[1] if m.type.startswith("note")]
    assert first[1].time == 8 * 120


def test_no_key_signature_without_a_key():
    midi = mido.MidiFile(file=__import__("io").BytesIO(midi_bytes(Score.empty(4))))
    assert not [m for m in midi.tracks[0] if m.type == "key_signature"]


def test_key_names_are_normalized_or_refused(tmp_path):
    assert midi_key_name("A minor") == "Am"
    assert midi_key_name("B- major") == "Bb"
    with pytest.raises(MidiFileError, match="such as C, F#"):
        save_midi(Score.empty(4, key="H dur"), tmp_path / "k.mid")
    assert list(tmp_path.iterdir()) == []


# --- saving errors ------------------------------------------------------------------------


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(MidiFileError, match="does not exist"):
        save_midi(Score.empty(4), tmp_path / "nope" / "a.mid")


def test_save_onto_a_folder(tmp_path):
    with pytest.raises(MidiFileError, match="folder"):
        save_midi(Score.empty(4), tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_save_without_permission(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(MidiFileError, match="permission denied"):
            save_midi(Score.empty(4), folder / "a.mid")
    finally:
        folder.chmod(0o700)


def test_refused_rename_says_permission_denied(tmp_path, monkeypatch):
    def refuse(*args):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(os, "replace", refuse)  # e.g. the target is read-only (root ignores chmod)
    with pytest.raises(MidiFileError, match="permission denied"):
        save_midi(Score.empty(4), tmp_path / "a.mid")
    assert list(tmp_path.iterdir()) == []


def test_disk_full_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "a.mid"
    save_midi(Score.empty(4), path)
    before = path.read_bytes()

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)  # the OS reports the full disk when flushing
    with pytest.raises(MidiFileError, match="disk is full"):
        save_midi(Score.empty(8), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.mid"]


# --- Bach chorales written by music21 -----------------------------------------------------


def _music21_steps(part, length: int) -> np.ndarray:
    """Pitch per 16th of a music21 part (-1 silence)."""
    row = np.full(length, -1, dtype=np.int16)
    for n in part.flatten().notes:
        start = round(float(n.offset) * 4)
        row[start : start + round(float(n.quarterLength) * 4)] = n.pitch.midi
    return row


@pytest.mark.parametrize("name", ["bach/bwv66.6", "bach/bwv269", "bach/bwv40.8", "bach/bwv153.1"])
def test_chorales_written_by_music21_come_back_voice_for_voice(name, tmp_path):
    from music21 import corpus

    chorale = corpus.parse(name)
    path = tmp_path / "chorale.mid"
    chorale.write("midi", fp=str(path))
    chorale = chorale.expandRepeats()  # music21 plays repeats out in MIDI
    score, report = load_midi_report(path)
    assert report.source == "4 named voice tracks" and report.notes_dropped == 0
    length = round(float(chorale.highestTime) * 4)
    assert score.num_steps == length
    for v, part in enumerate(chorale.parts):
        assert np.array_equal(score.pitches[v], _music21_steps(part, length)), part.partName
    meter = chorale.recurse().getElementsByClass("TimeSignature")[0]
    assert score.time_signature == (meter.numerator, meter.denominator)


# --- foreign files ------------------------------------------------------------------------


def test_one_track_melody_becomes_the_soprano(midi_maker):
    score, report = load_midi_report(midi_maker.melody())
    assert report.source == "one-line melody"
    assert [p for _, _, p in score.notes(0)] == [60, 62, 64, 65, 67, 69, 71, 72]
    assert [s for s, _, _ in score.notes(0)] == [0, 4, 8, 12, 16, 20, 24, 28]
    assert (score.pitches[1:] == -1).all()
    assert report.max_quantize_shift_steps == pytest.approx(0.25)  # 90 of 96 ticks: 3.75 steps


def test_piano_chords_and_drums_split_by_pitch_order(midi_maker):
    score, report = load_midi_report(midi_maker.piano_with_drums())
    assert "8 drum notes (channel 10) ignored" in report.changes
    assert "notes separated into voices by pitch order" in report.changes
    # five-note chords: highest two, lowest two; the middle note is dropped
    assert list(score.pitches[:, 0]) == [76, 72, 60, 48]
    assert list(score.pitches[:, 4]) == [77, 72, 65, 53]
    assert report.notes_dropped == 4
    assert score.onsets[1, 4]  # the alto's repeated C is struck again
    assert score.tempo_bpm == 120.0


def test_three_notes_go_to_soprano_bass_and_an_inner_voice(midi_maker):
    chord = [
        *midi_maker.note(0, 72, 0, 480),
        *midi_maker.note(0, 64, 0, 480),
        *midi_maker.note(0, 48, 0, 480),
        *midi_maker.note(0, 55, 480, 960),
        *midi_maker.note(0, 43, 480, 960),
        *midi_maker.note(0, 40, 480, 960),
        *midi_maker.note(0, 50, 960, 1440),
    ]
    score = load_midi(midi_maker.write("c.mid", [chord]))
    assert list(score.pitches[:, 0]) == [72, 64, -1, 48]
    assert list(score.pitches[:, 4]) == [55, -1, 43, 40]  # middle below middle C -> tenor
    assert list(score.pitches[:, 8]) == [-1, -1, -1, 50]  # a lone low note -> bass


def test_type0_file_with_four_channels_is_satb(midi_maker):
    events = []
    for ch, base in enumerate((72, 67, 60, 48)):
        events += midi_maker.note(ch, base, 0, 240) + midi_maker.note(ch, base + 2, 240, 480)
    score, report = load_midi_report(midi_maker.write("t0.mid", [events], type=0))
    assert report.source.startswith("type 0 file")
    assert list(score.pitches[:, 0]) == [72, 67, 60, 48]
    assert list(score.pitches[:, 2]) == [74, 69, 62, 50]


def test_four_unnamed_tracks_sorted_by_pitch(midi_maker):
    tracks = [midi_maker.note(0, p, 0, 480) for p in (50, 70, 58, 64)]
    score = load_midi(midi_maker.write("u.mid", tracks))
    assert list(score.pitches[:, 0]) == [70, 64, 58, 50]


def test_two_lines_become_soprano_and_bass(midi_maker):
    tracks = [midi_maker.note(0, 72, 0, 480), midi_maker.note(1, 48, 0, 480)]
    score = load_midi(midi_maker.write("sb.mid", tracks))
    assert list(score.pitches[:, 0]) == [72, -1, -1, 48]


def test_many_tracks_are_pooled(midi_maker):
    tracks = [midi_maker.note(0, p, 0, 480) for p in (40, 50, 60, 70, 80, 90)]
    score, report = load_midi_report(midi_maker.write("m.mid", tracks))
    assert list(score.pitches[:, 0]) == [90, 80, 50, 40]
    assert report.notes_dropped == 2


def test_several_tempi_keep_the_first_and_say_so(midi_maker):
    tempi = [
        mido.MetaMessage("set_tempo", tempo=t, time=i * 480)
        for i, t in enumerate((500000, 600000, 400000))
    ]
    score, report = load_midi_report(
        midi_maker.write("tempi.mid", [tempi, midi_maker.note(0, 60, 0, 1920)])
    )
    assert score.tempo_bpm == 120.0
    assert any("tempo changes ignored" in c for c in report.changes)


def test_legato_overlaps_are_cut(midi_maker):
    line = midi_maker.note(0, 60, 0, 720) + midi_maker.note(0, 62, 480, 960)
    score, report = load_midi_report(midi_maker.write("l.mid", [line]))
    assert score.notes(0) == [(0, 4, 60), (4, 4, 62)]
    assert "1 overlapping note cut where the next note starts" in report.changes


def test_repeated_note_on_before_off_and_velocity_zero_offs(midi_maker):
    events = [
        mido.Message("note_on", note=60, velocity=80, time=0),
        mido.Message("note_on", note=60, velocity=80, time=480),  # struck again first
        mido.Message("note_on", note=60, velocity=0, time=480),  # then the old one ends
        mido.Message("note_on", note=60, velocity=0, time=960),
    ]
    score = load_midi(midi_maker.write("rep.mid", [events]))
    assert score.notes(0) == [(0, 4, 60), (4, 4, 60)]


def test_unended_and_tiny_notes_are_reported(midi_maker):
    events = [
        mido.Message("note_on", note=60, velocity=80, time=0),
        *midi_maker.note(0, 64, 480, 490),
    ]
    score, report = load_midi_report(midi_maker.write("u.mid", [events]))
    assert any("without a note-off" in c for c in report.changes)
    assert any("shorter than a 16th" in c for c in report.changes)
    assert score.num_steps == 5


def test_32nd_notes_keep_a_line_melodic(midi_maker):
    # two 32nds on beat 2 land on neighbouring 16ths; the second collides with the next note
    line = [
        *midi_maker.note(0, 72, 0, 480),
        *midi_maker.note(0, 74, 480, 540),
        *midi_maker.note(0, 76, 540, 600),
        *midi_maker.note(0, 77, 600, 960),
    ]
    score, report = load_midi_report(midi_maker.write("t.mid", [line]))
    assert report.source == "one-line melody"
    assert score.notes(0) == [(0, 4, 72), (4, 1, 74), (5, 3, 77)]
    assert "1 note too short for the 16th grid dropped" in report.changes
    assert report.notes_dropped == 1


def test_zero_length_grace_notes_are_dropped(midi_maker):
    # music21 writes a grace note as an off and an on at the same tick, the off first
    events = [
        *midi_maker.note(0, 72, 0, 480),
        mido.Message("note_off", note=74, velocity=0, time=480),
        mido.Message("note_on", note=74, velocity=80, time=480),
        *midi_maker.note(0, 71, 480, 960),
        *midi_maker.note(0, 69, 960, 960),  # on and off at one tick
        *midi_maker.note(0, 67, 960, 1440),
    ]
    score, report = load_midi_report(midi_maker.write("g.mid", [events]))
    assert report.source == "one-line melody"
    assert [p for _, _, p in score.notes(0)] == [72, 71, 67]
    assert "2 zero-length notes (grace notes) dropped" in report.changes
    assert report.notes_dropped == 2


def test_conductor_events_after_the_music_are_ignored(midi_maker):
    conductor = [
        mido.MetaMessage("key_signature", key="Am", time=0),
        mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0),
        mido.MetaMessage("key_signature", key="C", time=960),  # same signature, other mode
        mido.MetaMessage("key_signature", key="G", time=1440),  # after the last note
        mido.MetaMessage("set_tempo", tempo=400000, time=1440),
    ]
    score, report = load_midi_report(
        midi_maker.write("c.mid", [conductor, midi_maker.note(0, 60, 0, 1440)])
    )
    assert (score.key, score.time_signature, score.tempo_bpm) == ("Am", (3, 4), 120.0)
    assert report.changes == []


def test_drums_only_gives_an_empty_score(midi_maker):
    score, report = load_midi_report(midi_maker.write("d.mid", [midi_maker.note(9, 36, 0, 60)]))
    assert score.num_steps == 0 and report.notes_read == 1


def test_report_summary_is_one_line():
    report = LoadReport("one-line melody", ["a", "b"])
    assert report.summary() == "one-line melody; a; b"
    assert LoadReport("cantor file").summary() == "cantor file; read exactly"
