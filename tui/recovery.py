"""Autosave: the edited score in a recovery file under the user state directory, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.fileio import atomic_write_text, os_reason
from engine.music.score import Score

FORMAT = 1


def state_dir() -> Path:
    """$XDG_STATE_HOME/cantor, or ~/.local/state/cantor."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "cantor"


def recovery_path(document: Path | None) -> Path:
    """One recovery file per document path; an untitled score's is this session's own."""
    if document is None:
        name = f"untitled-{os.getpid()}"  # two untitled sessions must not overwrite each other
    else:
        resolved = str(Path(document).expanduser().resolve())
        digest = hashlib.sha1(resolved.encode()).hexdigest()[:12]
        name = f"{Path(document).stem}-{digest}"
    return state_dir() / "recovery" / f"{name}.json"


_SESSION_PATHS: dict[str, Path] = {}  # document -> the file this session autosaves it to


def session_path(document: Path | None) -> Path:
    """Where this session autosaves `document`: its recovery file, or, while another running
    session (a second browser tab, a second terminal) writes that one, a file of this session's
    own beside it, so that neither overwrites or deletes the other's edits."""
    shared = recovery_path(document)
    if document is None:
        return shared
    key = str(shared)
    if key not in _SESSION_PATHS:
        owner = _owner(shared)
        taken = owner is not None and owner != os.getpid() and _alive(owner)
        _SESSION_PATHS[key] = shared.with_name(f"{shared.stem}.{os.getpid()}.json") if taken else shared
    return _SESSION_PATHS[key]


def _owner(path: Path) -> int | None:
    """The process that writes a recovery file (None: no file, unreadable, or written before
    files named their writer)."""
    try:
        owner = json.loads(path.read_text(encoding="utf-8")).get("pid")
    except (OSError, ValueError, AttributeError):
        return None
    return owner if isinstance(owner, int) else None


def score_to_dict(score: Score) -> dict:
    return {
        "pitches": score.pitches.tolist(),
        "onsets": score.onsets.astype(int).tolist(),
        "time_signature": list(score.time_signature),
        "pickup": score.pickup,
        "tempo_bpm": score.tempo_bpm,
        "key": score.key,
        "programs": list(score.programs),
        "title": score.title,
        "fermatas": None if score.fermatas is None else score.fermatas.astype(int).tolist(),
    }


def score_from_dict(data: dict) -> Score:
    pitches = np.asarray(data["pitches"], dtype=np.int16).reshape(4, -1)
    onsets = np.asarray(data["onsets"], dtype=bool).reshape(4, -1)
    return Score(
        pitches,
        onsets,
        time_signature=tuple(data["time_signature"]),
        pickup=int(data["pickup"]),
        tempo_bpm=float(data["tempo_bpm"]),
        key=data.get("key"),
        programs=tuple(data["programs"]),
        title=data.get("title", ""),
        fermatas=None if data.get("fermatas") is None else np.asarray(data["fermatas"], dtype=bool),
    )


@dataclass
class Recovered:
    """What a recovery file holds."""

    score: Score
    erased: np.ndarray
    document: Path | None
    saved_at: float
    path: Path


def write_recovery(document: Path | None, score: Score, erased: np.ndarray) -> Path:
    """Autosave; a kill (-9, SIGHUP) at any moment leaves the previous or the new file, whole."""
    path = session_path(document)
    payload = {
        "format": FORMAT,
        "pid": os.getpid(),  # the session that writes it: no other offers or drops it while it runs
        "document": str(document) if document else None,
        "saved_at": time.time(),
        "score": score_to_dict(score),
        "erased": np.asarray(erased, dtype=int).tolist(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # No fsync: it runs at every edit, and the rename alone keeps the file whole if cantor dies.
    # OSError passes through (error=None): the document ignores a full or read-only state folder.
    text = json.dumps(payload, separators=(",", ":"))
    atomic_write_text(path, text, "recovery file", error=None, sync=False)
    return path


class Autosaver:
    """Writes the recovery file at every edit. A failure (full or read-only state folder) is told
    once through `tell(message, failed)`, every later edit tries again, and a success after
    failures is told too, so edits are never lost in silence."""

    def __init__(self) -> None:
        self.tell = None  # set by the app: (message, failed) -> None
        self.failure: str | None = None

    def connect(self, tell) -> None:
        """Report to `tell` from now on (a new app starts with a clean slate)."""
        self.tell, self.failure = tell, None

    def save(self, document: Path | None, score: Score, erased: np.ndarray) -> bool:
        """Autosave; False when it failed (editing goes on either way)."""
        try:
            path = write_recovery(document, score, erased)
        except OSError as exc:
            if self.failure is None:
                self.failure = f"cannot autosave to {recovery_path(document).parent}: {os_reason(exc)}"
                self._tell(f"{self.failure}; edits are not protected against a crash until it"
                           " works again (cantor keeps trying at every edit)", True)
            return False
        if self.failure is not None:
            self.failure = None
            self._tell(f"autosave works again ({path.parent})", False)
        return True

    def _tell(self, message: str, failed: bool) -> None:
        if self.tell is not None:
            self.tell(message, failed)


AUTOSAVE = Autosaver()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: alive
    return True


def _orphaned_untitled() -> Path | None:
    """The newest untitled recovery file whose session has ended (crashed or was killed)."""
    folder = state_dir() / "recovery"
    found = []
    for path in folder.glob("untitled*.json"):
        pid = path.stem[len("untitled-") :] if path.stem.startswith("untitled-") else ""
        if path.stem == "untitled" or (pid.isdigit() and int(pid) != os.getpid()
                                        and not _alive(int(pid))):
            try:
                found.append((path.stat().st_mtime, path))
            except OSError:
                continue
    return max(found)[1] if found else None


def read_recovery(document: Path | None) -> Recovered | None:
    """The recovery file of a document when it exists, is newer than the document and its session
    has ended (a file still being written by a running session is not offered); else None.

    For an untitled score: the newest one left by a session that has ended."""
    if document is None:
        path = _orphaned_untitled()
        return None if path is None else _read(path)
    shared = recovery_path(document)
    candidates = [shared, *sorted(shared.parent.glob(f"{shared.stem}.*.json"))]
    found = [r for r in map(_read, candidates) if r is not None and not r.path.name.endswith(".kept.json")]
    try:
        modified = Path(document).stat().st_mtime
    except OSError:
        modified = None  # the document is gone: the recovery file is all there is
    found = [r for r in found if modified is None or r.saved_at > modified]
    return max(found, key=lambda r: r.saved_at) if found else None


def _read(path: Path) -> Recovered | None:
    """A recovery file's content, or None when unreadable or still written by a running session
    other than this one (a second browser tab, a second terminal)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        score = score_from_dict(data["score"])
        erased = np.asarray(data["erased"], dtype=bool).reshape(score.pitches.shape)
        saved_at = float(data["saved_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    owner = data.get("pid")
    if isinstance(owner, int) and owner != os.getpid() and _alive(owner):
        return None
    doc = Path(data["document"]) if data.get("document") else None
    return Recovered(score, erased, doc, saved_at, path)


def discard_recovery(document: Path | None) -> None:
    """Drop this session's autosave of `document` (never a file another running session writes)."""
    path = session_path(document)
    owner = _owner(path)
    if owner is None or owner == os.getpid() or not _alive(owner):
        path.unlink(missing_ok=True)


def set_aside(document: Path | None, path: Path | None = None) -> Path | None:
    """Move a recovery file (by default the document's) out of the way, timestamped, so new
    autosaves do not replace it and no later session offers it again."""
    path = path or session_path(document)
    target = path.with_name(f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}.kept.json")
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target
