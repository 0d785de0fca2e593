"""Output targets: symlinks written through, FIFOs and devices refused, inputs and suffixes kept."""

from __future__ import annotations

import os
import threading
import time

import pytest

from engine.errors import MidiFileError
from engine.fileio import atomic_write_bytes, checked_output, remove_stale_temporaries
from engine.music.midi import load_midi, save_midi

from .conftest import cantor, chorale_file, one_error_line


def test_a_fifo_target_is_refused_and_kept(tmp_path):
    fifo = tmp_path / "out.mid"
    os.mkfifo(fifo)
    with pytest.raises(MidiFileError, match=r"it is a FIFO \(named pipe\), not a regular file$"):
        save_midi(load_midi(chorale_file(tmp_path / "in.mid")), fifo)
    assert fifo.exists() and not fifo.is_file()  # still the FIFO, not replaced by a MIDI file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mid", "out.mid"]


def test_a_symlink_target_writes_the_file_it_points_to_and_keeps_the_link(tmp_path):
    real = tmp_path / "real" / "song.mid"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.mid"
    link.symlink_to(real)
    score = load_midi(chorale_file(tmp_path / "in.mid"))
    save_midi(score, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load_midi(real).same_notes(score)


def test_a_character_device_is_refused_when_one_can_be_made(tmp_path):
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | 0o020000, os.makedev(1, 3))  # our own /dev/null node, if root
    except (PermissionError, OSError):
        pytest.skip("making a device node needs root")
    with pytest.raises(MidiFileError, match="it is a device, not a regular file"):
        atomic_write_bytes(device, b"MThd")
    assert not device.is_file()


def test_the_input_file_is_never_overwritten(tmp_path):
    song = chorale_file(tmp_path / "t.mid")
    before = song.read_bytes()
    line = one_error_line(cantor("render", song, "-o", tmp_path / "t.wav", "--bars", "x"))  # sanity
    assert "bars" in line
    line = one_error_line(cantor("render", song, "-o", song))
    assert ".mid is the suffix of a MIDI file" in line
    with pytest.raises(MidiFileError, match="it is the input file; choose another name"):
        checked_output(tmp_path / "." / "t.mid", "MIDI file", inputs=[song])
    assert song.read_bytes() == before


def test_a_suffix_of_another_kind_is_refused_before_any_work(tmp_path):
    song = chorale_file(tmp_path / "t.mid")
    started = time.perf_counter()
    line = one_error_line(cantor("harmonize", song, "-o", tmp_path / "out.wav"))
    assert "out.wav: .wav is the suffix of a WAV file; use .mid or .midi" in line
    assert time.perf_counter() - started < 60  # refused before the model ran
    assert not (tmp_path / "out.wav").exists()


def test_a_killed_saves_temporary_is_removed_at_the_next_save(tmp_path):
    target = tmp_path / "song.mid"
    stale = tmp_path / ".song.mid.ab12cd34.tmp"
    fresh = tmp_path / ".song.mid.zz99yy88.tmp"  # another save in progress right now
    other = tmp_path / ".other.mid.ab12cd34.tmp"
    for path in (stale, fresh, other):
        path.write_bytes(b"half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    save_midi(load_midi(chorale_file(tmp_path / "in.mid")), target)
    assert not stale.exists() and fresh.exists() and other.exists()
    assert remove_stale_temporaries(target, older_than=-1) == 1 and not fresh.exists()


def test_an_endless_fifo_input_is_read_to_the_limit_only(tmp_path):
    fifo = tmp_path / "zero.mid"
    os.mkfifo(fifo)
    stop = threading.Event()

    def feed():  # like /dev/zero: never ends, so the reader must stop by itself
        try:
            with open(fifo, "wb") as out:
                chunk = b"MThd" + bytes(1 << 16)
                while not stop.is_set():
                    out.write(chunk)
        except BrokenPipeError:
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    started = time.perf_counter()
    try:
        with pytest.raises(MidiFileError, match=r"is larger than 1 MB; cantor reads MIDI files up to 1 MB$"):
            load_midi(fifo)
    finally:
        stop.set()
    assert time.perf_counter() - started < 10
    feeder.join(5)


def test_the_size_message_gives_two_decimals(tmp_path):
    big = tmp_path / "big.mid"
    big.write_bytes(b"MThd" + bytes(int(1.27 * 2**20)))
    with pytest.raises(MidiFileError, match=r"is 1\.27 MB; cantor reads MIDI files up to 1 MB"):
        load_midi(big)
