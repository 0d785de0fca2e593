"""Crafted MIDI files: voice separation that cannot be made to hang, and slight damage repaired."""

from __future__ import annotations

import io
import time

import mido
import numpy as np
import pytest

from engine.music.midi import MidiFileError, parse_midi
from engine.music.midi_scan import count_events
from engine.music.voices import Note, _separate_by_pitch


def _bytes(messages, ticks_per_beat=4) -> bytes:
    midi = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    midi.tracks.append(mido.MidiTrack(messages))
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def separation_bomb(notes: int, steps: int = 63_000) -> bytes:
    """`notes` chord notes struck one 16th apart, all held to the 64,000-step limit (~6 bytes each)."""
    messages = [mido.Message("note_on", note=30 + i % 90, velocity=64, time=int(i > 0))
                for i in range(notes)]
    messages.append(mido.Message("note_off", note=30, time=steps - notes))
    messages += [mido.Message("note_off", note=30 + i % 90, time=0) for i in range(1, notes)]
    return _bytes(messages)


def test_a_separation_bomb_loads_in_under_a_second():
    data = separation_bomb(1500)  # ~9 KB: notes x length was 16 s for 8 KB before the sweep
    assert len(data) < 12_000
    started = time.process_time()  # CPU time: the machine may be busy with other work
    score, report = parse_midi(data)
    assert time.process_time() - started < 1.0
    assert score.num_steps > 62_000 and "separated into voices by pitch order" in report.summary()
    assert (score.pitches[:, -1] >= 0).all()  # four voices sound to the end


def test_same_tick_note_on_off_storms_are_linear():
    messages = [mido.Message("note_on", note=60, velocity=64, time=0) for _ in range(20_000)]
    messages.append(mido.Message("note_off", note=60, time=4))
    messages += [mido.Message("note_off", note=60, time=0) for _ in range(19_999)]
    started = time.process_time()
    score, _ = parse_midi(_bytes(messages))
    assert time.process_time() - started < 3.0  # mido's own parsing of 40,000 messages included
    assert score.num_steps == 4 and (score.pitches[0] == 60).all()


def test_the_sweep_matches_the_per_step_rule():
    rng = np.random.default_rng(0)
    for _ in range(200):
        length = int(rng.integers(1, 40))
        notes = []
        for _ in range(int(rng.integers(0, 12))):
            start = int(rng.integers(0, length))
            end = min(length, start + int(rng.integers(1, 12)))
            notes.append(Note(start, end, int(rng.choice([48, 55, 59, 60, 64, 67, 72])), (0, 0)))
        ids = np.full((4, length), -1, dtype=np.int32)
        _separate_by_pitch(notes, ids)
        assert (ids == _per_step(notes, length)).all()


def _per_step(notes, length):
    """The rule as the module docstring states it, step by step (slow, obviously right)."""
    ids = np.full((4, length), -1, dtype=np.int32)
    for t in range(length):
        latest = {}
        for i, n in enumerate(notes):
            if n.start <= t < n.end and (n.pitch not in latest or n.start > notes[latest[n.pitch]].start):
                latest[n.pitch] = i
        order = [latest[p] for p in sorted(latest, reverse=True)]
        if len(order) == 1:
            ids[0 if notes[order[0]].pitch >= 60 else 3, t] = order[0]
        elif len(order) == 2:
            ids[0, t], ids[3, t] = order
        elif len(order) == 3:
            ids[0, t], ids[3, t] = order[0], order[2]
            ids[1 if notes[order[1]].pitch >= 60 else 2, t] = order[1]
        elif order:
            ids[:, t] = order[0], order[1], order[-2], order[-1]
    return ids


GOOD_BODY = bytes([0, 0x90, 60, 80, 0x60, 0x80, 60, 0, 0, 0xFF, 0x2F, 0])
HEADER = b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0x01, 0xE0])


def test_a_wrong_track_length_is_repaired_and_reported():
    data = HEADER + b"MTrk" + (len(GOOD_BODY) + 40).to_bytes(4, "big") + GOOD_BODY
    score, report = parse_midi(data)
    assert "1 track length repaired" in report.changes
    assert score.pitches[0, 0] == 60


def test_a_data_byte_above_127_is_clipped_and_reported():
    body = bytes([0, 0x90, 60, 200, 0x60, 0x80, 60, 0, 0, 0xFF, 0x2F, 0])  # velocity 200
    data = HEADER + b"MTrk" + len(body).to_bytes(4, "big") + body
    score, report = parse_midi(data)
    assert "data bytes above 127 clipped to 127" in report.changes
    assert score.pitches[0, 0] == 60


def event_bomb(events: int) -> bytes:
    """`events` note messages in one track, 3 bytes each with running status (~750 KB for 250k)."""
    messages = [mido.Message("note_on", note=30 + i % 90, velocity=64 if i % 2 == 0 else 0,
                             time=i % 2) for i in range(events)]
    return _bytes(messages)


def test_a_file_of_too_many_events_is_refused_before_parsing():
    data = event_bomb(250_000)
    assert 700_000 < len(data) < 1024 * 1024  # under the size limit
    started = time.process_time()
    with pytest.raises(MidiFileError, match=r"^the file holds more than 200,000 MIDI events"):
        parse_midi(data)
    assert time.process_time() - started < 1.0  # mido alone needed about 4 s for it


def test_the_event_count_agrees_with_mido():
    rng = np.random.default_rng(1)
    for trial in range(30):
        messages = []
        for _ in range(int(rng.integers(1, 300))):
            kind = rng.integers(0, 6)
            delta = int(rng.choice([0, 1, 127, 128, 20_000]))
            if kind == 0:
                messages.append(mido.Message("note_on", note=int(rng.integers(0, 128)), time=delta))
            elif kind == 1:
                messages.append(mido.Message("program_change", program=3, time=delta))
            elif kind == 2:
                messages.append(mido.MetaMessage("text", text="x" * int(rng.integers(0, 300)),
                                                 time=delta))
            elif kind == 3:
                messages.append(mido.Message("sysex", data=[1] * int(rng.integers(0, 200)),
                                             time=delta))
            elif kind == 4:
                messages.append(mido.Message("pitchwheel", pitch=100, time=delta))
            else:
                messages.append(mido.Message("control_change", control=7, value=1, time=delta))
        data = _bytes(messages)
        parsed = mido.MidiFile(file=io.BytesIO(data))
        assert count_events(data, 10**9) == sum(len(t) for t in parsed.tracks), trial
    assert count_events(b"not midi") == 0
    assert count_events(event_bomb(50)[:-20], 10**9) < 51  # truncated: a lower bound, no error
