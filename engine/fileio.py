"""Atomic file output: write beside the target, fsync, then rename over it."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from engine.errors import MidiFileError


@contextlib.contextmanager
def atomic_output(path, what: str = "file"):
    """Yield a temporary path beside `path`; on success it replaces `path`, else it is removed."""
    path = Path(path)
    if path.is_dir():
        raise MidiFileError(f"cannot write {what} {path}: it is a folder")
    if not path.parent.is_dir():
        raise MidiFileError(f"cannot write {what} {path}: folder {path.parent} does not exist")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise MidiFileError(f"cannot write {what} {path}: {os_reason(exc)}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise MidiFileError(f"cannot write {what} {path}: {os_reason(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied"
    return exc.strerror or str(exc)
