"""Damaged or absurd MIDI input: always a one-line MidiFileError, never a traceback or a hang."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import MidiFileError
from engine.music.midi import (
    MAX_FILE_BYTES,
    MAX_STEPS,
    load_midi,
    midi_bytes,
    parse_midi,
)
from engine.music.score import Score

# --- damaged files ------------------------------------------------------------------------


def _header(fmt=1, ntracks=1, division=480) -> bytes:
    return (
        b"MThd"
        + (6).to_bytes(4, "big")
        + b"".join(x.to_bytes(2, "big") for x in (fmt, ntracks, division))
    )


def _track(body: bytes) -> bytes:
    return b"MTrk" + len(body).to_bytes(4, "big") + body


GOOD_TRACK = _track(bytes([0, 0x90, 60, 80, 0x60, 0x80, 60, 0, 0, 0xFF, 0x2F, 0]))
DAMAGED = {
    "empty": b"",
    "text renamed .mid": b"Dear choir,\nrehearsal is moved to Thursday.\n" * 3,
    "wrong header": b"MThx" + _header()[4:] + GOOD_TRACK,
    "truncated": _header() + GOOD_TRACK[:-5],
    "bad running status": _header() + _track(bytes([0, 60, 80, 0, 0xFF, 0x2F, 0])),
    "endless delta time": _header() + _track(bytes([0x81] * 40)),
    "absurd delta time": _header()
    + _track(bytes([0, 0x90, 60, 80, 0xFF, 0xFF, 0xFF, 0x7F, 0x80, 60, 0, 0, 0xFF, 0x2F, 0])),
    "SMPTE division": _header(division=0xE728) + GOOD_TRACK,
    "zero tracks": _header(ntracks=0),
    "zero ticks per quarter": _header(division=0) + GOOD_TRACK,
    "unknown format": _header(fmt=7) + GOOD_TRACK,
    "missing track": _header(ntracks=2) + GOOD_TRACK,
    "not a track chunk": _header() + b"MTrx" + GOOD_TRACK[4:],
    "undefined status": _header() + _track(bytes([0, 0xF4, 0, 0xFF, 0x2F, 0])),
    "bad key signature": _header() + _track(bytes([0, 0xFF, 0x59, 2, 20, 0, 0, 0xFF, 0x2F, 0])),
}


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_damaged_files_raise_one_line(case, tmp_path):
    path = tmp_path / "bad.mid"
    path.write_bytes(DAMAGED[case])
    with pytest.raises(MidiFileError) as info:
        load_midi(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert info.value.__cause__ is None  # no mido traceback chained into the report


def test_absurd_length_names_the_limit(tmp_path):
    path = tmp_path / "long.mid"
    path.write_bytes(DAMAGED["absurd delta time"])
    with pytest.raises(MidiFileError, match=f"up to {MAX_STEPS} 16ths"):
        load_midi(path)


def test_huge_file_refused_before_reading(tmp_path):
    path = tmp_path / "huge.mid"
    with open(path, "wb") as f:  # sparse: 100 MB that take no disk space
        f.write(_header() + GOOD_TRACK)
        f.truncate(100 * 2**20)
    start = time.perf_counter()
    with pytest.raises(MidiFileError, match=f"up to {MAX_FILE_BYTES // 2**20} MB"):
        load_midi(path)
    assert time.perf_counter() - start < 1.0  # refused by size, not parsed


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MidiFileError, match="no such file"):
        load_midi(tmp_path / "none.mid")
    with pytest.raises(MidiFileError, match="folder"):
        load_midi(tmp_path)


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_corrupted_bytes_give_a_score_or_midi_file_error(data):
    original = bytearray(
        midi_bytes(Score(np.array([[72, 74], [67, 67], [60, -1], [48, 43]]), key="G", title="x"))
    )
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(original) - 1))
        original[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        del original[data.draw(st.integers(0, len(original))) :]
    try:
        score, report = parse_midi(bytes(original))
    except MidiFileError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(score, Score) and isinstance(report.summary(), str)
