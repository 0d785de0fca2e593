"""Atomic output: the new file whole or the old one untouched, never a temporary left behind."""

import errno
import os
import stat
import time

import pytest

from engine.errors import CantorError, MidiFileError
from engine.fileio import (
    atomic_open,
    atomic_output,
    atomic_write_bytes,
    atomic_write_text,
    checked_output,
)


class NotesError(CantorError):
    """Stands for a module's own error class."""


def fail_with(code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_write_bytes_and_text_replace_the_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    assert atomic_write_text(path, "né\n") == path
    assert path.read_bytes() == "né\n".encode()
    atomic_write_bytes(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert names(tmp_path) == ["a.txt"]


def test_default_error_is_midi_file_error(tmp_path):
    with pytest.raises(MidiFileError, match=r"^cannot write file .*nope.*: folder .* does not exist$"):
        atomic_write_bytes(tmp_path / "nope" / "a.mid", b"x")
    with pytest.raises(MidiFileError, match="it is a folder"):
        atomic_write_bytes(tmp_path, b"x")


def test_error_class_and_what_name_the_failure(tmp_path):
    target, missing = tmp_path / "notes.txt", tmp_path / "gone" / "notes.txt"
    with pytest.raises(NotesError) as caught:
        atomic_write_text(missing, "x", "notes", error=NotesError)
    assert str(caught.value) == f"cannot write notes {missing}: folder {missing.parent} does not exist"
    with pytest.raises(NotesError, match=r"^cannot write notes .*: it is a folder$"):
        checked_output(tmp_path, "notes", error=NotesError)
    assert checked_output(str(target), "notes", error=NotesError) == target


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_disk_full_is_a_plain_reason_and_keeps_the_old_file(tmp_path, monkeypatch, step):
    path = tmp_path / "notes.txt"
    path.write_text("old")
    monkeypatch.setattr(os, step, fail_with(errno.ENOSPC))
    with pytest.raises(NotesError) as caught:
        atomic_write_text(path, "new", "notes", error=NotesError)
    assert str(caught.value) == f"cannot write notes {path}: the disk is full"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert path.read_text() == "old"
    assert names(tmp_path) == ["notes.txt"]


def test_refused_rename_says_permission_denied(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", fail_with(errno.EACCES))
    with pytest.raises(NotesError, match=r"notes\.txt: permission denied$"):
        atomic_write_text(tmp_path / "notes.txt", "new", "notes", error=NotesError)
    assert names(tmp_path) == []


def test_temporary_file_that_cannot_be_made(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "open", fail_with(errno.EROFS))  # what mkstemp calls
    with pytest.raises(NotesError, match="permission denied"):
        atomic_write_text(tmp_path / "notes.txt", "new", "notes", error=NotesError)


def test_error_none_lets_the_os_error_through(tmp_path, monkeypatch):
    path = tmp_path / "notes.txt"
    path.write_text("old")
    monkeypatch.setattr(os, "replace", fail_with(errno.ENOSPC))
    with pytest.raises(OSError) as caught:
        atomic_write_text(path, "new", error=None)
    assert caught.value.errno == errno.ENOSPC and not isinstance(caught.value, CantorError)
    assert path.read_text() == "old" and names(tmp_path) == ["notes.txt"]
    monkeypatch.undo()
    with pytest.raises(FileNotFoundError):  # no check of its own: the OS says what is wrong
        atomic_write_text(tmp_path / "gone" / "notes.txt", "new", error=None)


def test_an_error_in_the_body_passes_unchanged_and_cleans_up(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("old")
    with pytest.raises(KeyError), atomic_open(path, "notes", error=NotesError) as handle:
        handle.write(b"half")
        raise KeyError("the caller's own failure")
    assert path.read_text() == "old" and names(tmp_path) == ["notes.txt"]


def test_the_temporary_file_sits_beside_the_target(tmp_path):
    with atomic_output(tmp_path / "a.mid", "MIDI file") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".a.mid.")
        tmp.write_bytes(b"x")
    assert names(tmp_path) == ["a.mid"]


def test_mode_sets_the_permissions(tmp_path):
    path = atomic_write_bytes(tmp_path / "shared.wav", b"x", mode=0o644)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    fresh = atomic_write_bytes(tmp_path / "song.mid", b"x")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask  # as open() would, not 0600
    fresh.chmod(0o640)
    atomic_write_bytes(fresh, b"y")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640 and fresh.read_bytes() == b"y"


def test_sync_false_skips_the_fsync(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", fail_with(errno.EIO))
    path = atomic_write_text(tmp_path / "often.json", "{}", sync=False)
    assert path.read_text() == "{}"
    with pytest.raises(MidiFileError, match="Input/output error"):
        atomic_write_text(path, "[]")  # with sync the failing fsync is met
    assert path.read_text() == "{}"


def test_a_fifo_nobody_writes_to_reads_as_empty_and_one_with_a_writer_as_sent(tmp_path):
    import threading

    from engine.fileio import read_limited

    fifo = tmp_path / "pipe.mid"
    os.mkfifo(fifo)
    done = []
    reader = threading.Thread(target=lambda: done.append(read_limited(fifo, 100)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert done == [b""], "open() waited for a writer"

    def write() -> None:
        with open(fifo, "wb") as handle:
            handle.write(b"MThd" + b"x" * 200)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    time.sleep(0.2)  # the writer waits in open() for a reader
    assert read_limited(fifo, 100) == b"MThd" + b"x" * 97
    writer.join(timeout=10)


def test_a_dash_or_a_blank_name_is_no_file_name(tmp_path):
    from engine.fileio import checked_output

    for name in ("-", " "):
        with pytest.raises(MidiFileError, match="give a file name"):
            checked_output(tmp_path / name, "MIDI file")
