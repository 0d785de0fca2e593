"""Trio extraction (melody / bass / drums) from multi-track MIDI files written by the test."""

from __future__ import annotations

import argparse

import mido
import numpy as np
import pytest

from engine.accompany.trio import (
    DRUM_CLASSES,
    NUM_DRUM_PATTERNS,
    TRIO_LOW,
    drum_class,
    drum_pitches,
    extract_trios,
)
from engine.errors import MidiFileError
from engine.training.accompany_data import load_trio_folder

TPQ = 96  # 24 ticks per 16th step


def program(channel, number):
    return [mido.Message("program_change", channel=channel, program=number, time=0)]


def band(midi_maker, name, *, melody_program=0, bass_program=33, drums=True, bars=2, shift=0):
    """Piano (chords: melody on top), bass, drums; one quarter note per beat."""
    note = midi_maker.note
    piano = program(0, melody_program)
    bass = program(1, bass_program)
    kit = []
    for beat in range(4 * bars):
        start, end = beat * TPQ, beat * TPQ + TPQ - 6
        top = 72 + shift + (beat % 4) * 2
        for p in (top, top - 4, top - 7):  # a chord: the extracted melody is its top note
            piano += note(0, p, start, end)
        bass += note(1, 36 + shift + beat % 3, start, end)
        bass += note(1, 48 + shift, start, end)  # an octave doubling: the bass line keeps the lower
        if drums:
            kit += note(9, 36, start, start + 12)  # kick on every beat
            if beat % 2:
                kit += note(9, 38, start, start + 12)  # snare on 2 and 4
            kit += note(9, 42, start + 48, start + 60)  # closed hi-hat on the off-beat
    return midi_maker.write(name, [piano, bass, kit], tpq=TPQ)


def test_drum_classes_follow_the_reduced_kit():
    assert len(DRUM_CLASSES) == 9 and NUM_DRUM_PATTERNS == 512
    assert drum_class(36) == drum_class(35) == 0  # kicks
    assert drum_class(38) == drum_class(40) == 1  # snares
    assert drum_class(42) == 2 and drum_class(46) == 3
    assert drum_class(49) == 7 and drum_class(51) == 8
    assert drum_class(100) is None
    assert drum_pitches(0b11) == [36, 38]


def test_extracts_melody_bass_and_drums(midi_maker):
    trio = extract_trios(band(midi_maker, "band.mid"))
    assert len(trio) == 1
    t = trio[0]
    assert t.num_steps == 32
    # Highest note of the piano chord, held for the quarter (last step released 6 ticks early).
    assert list(t.melody[:8]) == [72, 72, 72, 72, 74, 74, 74, 74]
    # Lowest note of the bass, not its octave doubling.
    assert list(t.bass[0:12:4]) == [36, 37, 38]
    kick, snare, hat = 1 << 0, 1 << 1, 1 << 2
    assert t.drums[0] == kick and t.drums[4] == kick | snare and t.drums[2] == hat
    assert t.drums[1] == 0
    classes = t.classes()
    assert classes.shape == (3, 32) and classes.dtype == np.int64
    assert classes[0, 0] == 72 - TRIO_LOW and classes[2, 4] == kick | snare


def test_every_melody_instrument_gives_a_trio(midi_maker):
    note = midi_maker.note
    path = band(midi_maker, "band.mid")
    midi = mido.MidiFile(str(path))
    organ = program(2, 19) + [m for b in range(8) for m in note(2, 60 + b, b * TPQ, b * TPQ + 90)]
    strings = program(3, 48) + [m for b in range(8) for m in note(3, 80, b * TPQ, b * TPQ + 90)]
    tracks = [[m.copy() for m in t] for t in midi.tracks]
    path2 = midi_maker.write("two.mid", [], tpq=TPQ)
    out = mido.MidiFile(ticks_per_beat=TPQ)
    for events in tracks:
        out.tracks.append(mido.MidiTrack(events))
    for events in (organ, strings):
        track, now = mido.MidiTrack(), 0
        for m in sorted(events, key=lambda m: m.time):
            track.append(m.copy(time=m.time - now))
            now = m.time
        out.tracks.append(track)
    out.save(str(path2))
    trios = extract_trios(path2)
    # Piano and organ are melody programs; strings (48) are neither melody nor bass.
    assert len(trios) == 2
    assert sorted(int(t.melody[0]) for t in trios) == [60, 72]


@pytest.mark.parametrize("missing", ["bass", "drums"])
def test_a_file_without_a_part_gives_no_trio(midi_maker, missing):
    if missing == "bass":
        path = band(midi_maker, "nobass.mid", bass_program=48)  # strings, not a bass program
    else:
        path = band(midi_maker, "nodrums.mid", drums=False)
    assert extract_trios(path) == []


def test_unreadable_file_is_a_midi_error(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd not really")
    with pytest.raises(MidiFileError):
        extract_trios(bad)


def test_folder_loader_splits_and_reports(midi_maker, tmp_path):
    for i in range(10):
        band(midi_maker, f"song{i:02d}.mid", shift=i % 3)
    (tmp_path / "notes.txt").write_text("not midi")
    band(midi_maker, "nodrums.mid", drums=False)
    data = load_trio_folder(tmp_path)
    # Sorted: nodrums.mid, song00..song09; the 10th file (song08) is held out for validation.
    assert len(data.train) == 9 and len(data.valid) == 1
    assert data.tracks["track_names"] == ("melody", "bass", "drums")
    assert data.provenance["files_without_trio"] == 1


def test_folder_without_trios_is_a_clear_error(midi_maker, tmp_path):
    from engine.training.accompany_data import DataError

    band(midi_maker, "nodrums.mid", drums=False)
    with pytest.raises(DataError, match="melody .*bass .*drums"):
        load_trio_folder(tmp_path)
    with pytest.raises(MidiFileError):
        load_trio_folder(tmp_path / "absent")


def test_trains_on_a_trio_folder_and_accompanies(midi_maker, tmp_path):
    from engine.accompany.predict import load_accompany
    from engine.training.accompany import train_accompany

    folder = tmp_path / "midi"
    folder.mkdir()
    midi_maker.folder = folder
    for i in range(3):
        band(midi_maker, f"song{i}.mid", shift=i)
    args = argparse.Namespace(
        data=f"trio:{folder}", out=str(tmp_path / "run"), resume=False, minutes=None, seed=0,
        max_steps=3, batch_size=4, lr=None, threads=1, config="tiny",
    )
    found = train_accompany(args)
    model = load_accompany(found["checkpoint"])
    assert model.config.track_names == ("melody", "bass", "drums")
    assert model.config.track_classes[2] == NUM_DRUM_PATTERNS
    assert not model.is_chorale
    assert model.payload["data"]["source"] == "trio"
    # The trained model writes bass and drums under a melody; the file reads back as a trio.
    from engine.accompany.predict import accompany_trio
    from engine.accompany.trio import save_trio_midi

    melody = extract_trios(folder / "song0.mid")[0].melody
    trios = accompany_trio(melody, variants=2, checkpoint=model)
    assert len(trios) == 2 and all(np.array_equal(t.melody, melody) for t in trios)
    assert all(t.drums.max() < NUM_DRUM_PATTERNS and (t.bass >= -1).all() for t in trios)
    out = save_trio_midi(trios[0], tmp_path / "trio.mid")
    notes = [m for m in mido.MidiFile(str(out)) if m.type == "note_on" and m.velocity]
    melody_notes = [m.note for m in notes if m.channel == 0]
    assert melody_notes[:2] == [72, 74]
    assert all(m.channel in (0, 1, 9) for m in notes)
