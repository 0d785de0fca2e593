"""The folder a training run writes: claimed before any work, and the figure its best.pt holds."""

from __future__ import annotations

import math
from pathlib import Path

from engine.coconet.checkpoint import load_checkpoint
from engine.errors import CantorError
from engine.training.coconet_config import TrainError


def claim_run_folder(out: Path, resume: bool):
    """Make sure `out` can take this run before any work: a folder (made if missing) that takes
    new files, holding no other run unless resumed, and written by no other training at once
    (an exclusive lock, released when the process ends). Returns the lock's open file."""
    import fcntl

    from engine.fileio import os_reason, probe_new_file

    try:
        out.mkdir(parents=True, exist_ok=True)
        probe_new_file(out)
    except OSError as exc:
        what = "is a file, not a folder" if out.is_file() else os_reason(exc)
        raise TrainError(f"--out {out}: {what}") from None
    if not resume:
        held = [name for name in ("best.pt", "last.pt") if (out / name).exists()]
        if held:
            raise TrainError(f"--out {out} already holds a run ({', '.join(held)}): continue it with"
                             " --resume, or give another --out")
    lock = open(out / ".lock", "a")  # noqa: SIM115 - held open for the whole run
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise TrainError(f"another training is writing into {out}: wait for it, or give another"
                         " --out") from None
    return lock


def saved_best(path: Path) -> float | None:
    """The validation NLL best.pt was saved with (None: no file, or none recorded)."""
    if not path.is_file():
        return None
    try:
        value = load_checkpoint(path, "coconet").get("metrics", {}).get("valid_nll")
    except CantorError:
        return None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
