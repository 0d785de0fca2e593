"""Atomic file output: write beside the target, fsync, then rename over it.

Every file cantor writes goes through `atomic_output` (or `atomic_open`, `atomic_write_bytes`,
`atomic_write_text`),
so a crash, a full disk or a refused rename leaves the previous file whole and no temporary behind.
A failure is one line, "cannot write <what> <path>: <reason>", raised as the caller's error class.
Targets are checked first (`checked_output`): a symbolic link is followed on purpose (the file it
points to is written and the link kept); devices, FIFOs and sockets are refused (a rename would
replace them); a name whose suffix belongs to another kind of file (`out.wav` for MIDI) is refused;
and the caller's input files are never overwritten. Temporary files a killed save left behind
(`.NAME.XXXXXXXX.tmp`, older than a minute) are removed at the next save of NAME.
`read_limited` reads at most a limit (+1 byte to tell "larger"), whatever the file is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import time
from pathlib import Path

from engine.errors import MidiFileError

# Suffixes of the kinds of file cantor writes; a name with another kind's suffix is a mistake.
SUFFIXES = {
    "MIDI file": (".mid", ".midi"),
    "WAV file": (".wav",),
    "MusicXML file": (".musicxml", ".xml", ".mxl"),
}
STALE_TEMP_SECONDS = 60.0  # a save in progress is younger than this; a killed one is left older


def _current_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


# Read once at import (before worker threads exist): new files get 0o666 & ~umask, as open() does.
_NEW_FILE_MODE = 0o666 & ~_current_umask()


def checked_output(path, what: str = "file", *, error: type[Exception] = MidiFileError,
                   inputs=()) -> Path:
    """The file to write for `path` (a symlink resolved to its target), or `error` when it cannot
    or must not be written: a folder, a missing folder, a device/FIFO/socket, another kind's
    suffix, or one of `inputs`. Call it before slow work, so a typo costs nothing."""
    path = Path(path)
    if not path.name.strip() or path.name == "-":  # "-o -" is not standard output here
        raise error(f"cannot write {what} {str(path)!r}: give a file name")
    if path.is_dir():
        raise error(f"cannot write {what} {path}: it is a folder")
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if not target.parent.is_dir():
        raise error(f"cannot write {what} {path}: folder {target.parent} does not exist")
    try:
        mode = target.stat().st_mode
    except OSError:
        mode = None  # a new file
    if mode is not None and not stat.S_ISREG(mode):
        raise error(f"cannot write {what} {path}: it is {_kind_of(mode)}, not a regular file")
    _check_suffix(path, what, error)
    for source in inputs:
        if _same_file(target, source):
            raise error(f"cannot write {what} {path}: it is the input file; choose another name")
    _check_writable(target.parent, path, what, error)
    return target


def _check_writable(folder: Path, path: Path, what: str, error: type[Exception]) -> None:
    """A save goes through a temporary file in the folder (atomic rename), so the folder itself
    must take a new file."""
    try:
        probe_new_file(folder)
    except OSError as exc:
        raise error(f"cannot write {what} {path}: {os_reason(exc)}") from None


def probe_new_file(folder) -> None:
    """Create and remove a file in `folder`; OSError when it takes none (a read-only mount, an
    immutable folder, no permission)."""
    handle, probe = tempfile.mkstemp(prefix=".cantor-probe-", dir=folder)
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def _kind_of(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check_suffix(path: Path, what: str, error: type[Exception]) -> None:
    """Refuse a name that ends like another kind of file cantor writes (`-o out.wav` for MIDI)."""
    own = SUFFIXES.get(what)
    suffix = path.suffix.lower()
    if own is None or suffix in own:
        return
    for other, suffixes in SUFFIXES.items():
        if suffix in suffixes:
            raise error(f"cannot write {what} {path}: {suffix} is the suffix of a {other};"
                        f" use {' or '.join(own)}")


def _same_file(target: Path, source) -> bool:
    try:
        return os.path.samefile(target, source)
    except (OSError, ValueError):
        return False


def remove_stale_temporaries(path: Path, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Remove `.NAME.XXXXXXXX.tmp` files a killed save of `path` left behind; return how many."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}\.tmp$")
    removed, now = 0, time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return 0
    for entry in entries:
        if not pattern.match(entry.name):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > older_than:
                os.unlink(entry.path)
                removed += 1
    return removed


def read_limited(path, limit: int) -> bytes:
    """At most `limit` + 1 bytes of `path` (one more than allowed tells the caller it is too
    large), whatever the file is: /dev/zero and an endless FIFO end here too. OSError passes.

    Opened without blocking (a FIFO nobody writes to would wait forever in open()), then read
    blocking. A FIFO gets FIFO_WAIT seconds for a writer to send something; with none it reads
    as empty."""
    import select

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            waiting = select.poll()
            waiting.register(fd, select.POLLIN)
            if not waiting.poll(FIFO_WAIT * 1000):
                os.close(fd)
                return b""
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    with handle:
        return handle.read(limit + 1)


FIFO_WAIT = 3  # seconds a FIFO input gets to start sending


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
    if error is not None:
        path = checked_output(path, what, error=error)
    elif Path(path).is_symlink():
        path = Path(os.path.realpath(path))
    else:
        path = Path(path)
    tmp = None
    try:
        remove_stale_temporaries(path)
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
