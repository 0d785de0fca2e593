"""Atomic file output: write beside the target, fsync, then rename over it.

Every file cantor writes goes through `atomic_output` (or `atomic_open`, `atomic_write_bytes`,
`atomic_write_text`),
so a crash, a full disk or a refused rename leaves the previous file whole and no temporary behind.
A failure is one line, "cannot write <what> <path>: <reason>", raised as the caller's error class.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from engine.errors import MidiFileError


def _current_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


# Read once at import (before worker threads exist): new files get 0o666 & ~umask, as open() does.
_NEW_FILE_MODE = 0o666 & ~_current_umask()


def checked_output(path, what: str = "file", *, error: type[Exception] = MidiFileError) -> Path:
    """`path` as a Path, or `error` when it is a folder or its folder is missing (check before slow work)."""
    path = Path(path)
    if path.is_dir():
        raise error(f"cannot write {what} {path}: it is a folder")
    if not path.parent.is_dir():
        raise error(f"cannot write {what} {path}: folder {path.parent} does not exist")
    return path


@contextlib.contextmanager
def atomic_output(
    path,
    what: str = "file",
    *,
    error: type[Exception] | None = MidiFileError,
    mode: int | None = None,
    sync: bool = True,
):
    """Yield a temporary path beside `path`; on success it replaces `path`, else it is removed.

    `error` is the exception class for a failure; None lets the OSError itself through (for callers
    that handle OSError). `mode` sets the permission bits; by default a replaced file keeps its
    own and a new one gets what open() would give it (0666 less the umask), not mkstemp's 0600;
    `sync=False` skips the fsync, for files a crash may cost but that are written very often.
    """
    path = checked_output(path, what, error=error) if error is not None else Path(path)
    tmp = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        yield tmp
        if mode is None:
            try:
                mode = path.stat().st_mode & 0o7777
            except OSError:
                mode = _NEW_FILE_MODE
        os.chmod(tmp, mode)
        if sync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if error is None:
            raise
        raise error(cannot_write(what, path, exc)) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def atomic_open(path, what: str = "file", **options):
    """Like `atomic_output`, but yield the temporary file opened for binary writing."""
    with atomic_output(path, what, **options) as tmp, open(tmp, "wb") as handle:
        yield handle


def atomic_write_bytes(path, data: bytes, what: str = "file", **options) -> Path:
    """Write `data` to `path` atomically; `options` as for `atomic_output`. Returns the path."""
    with atomic_open(path, what, **options) as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path, text: str, what: str = "file", **options) -> Path:
    """Write `text` as UTF-8 to `path` atomically; `options` as for `atomic_output`."""
    return atomic_write_bytes(path, text.encode("utf-8"), what, **options)


def cannot_write(what: str, path, exc: OSError) -> str:
    """The one-line message for an OSError met while writing `path`."""
    return f"cannot write {what} {path}: {os_reason(exc)}"


def os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied"
    return exc.strerror or str(exc)
