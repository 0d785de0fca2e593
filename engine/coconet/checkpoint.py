"""Self-describing checkpoints: kind, config, weights, step, metrics and data provenance.

Files are read with `torch.load(weights_only=True)`, so a pickle that tries to run code is refused.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from engine.errors import CheckpointError
from engine.fileio import atomic_open

REQUIRED_KEYS = ("kind", "config", "state_dict")


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Write a checkpoint dict atomically (temporary file in the same folder, then rename)."""
    import torch

    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        raise CheckpointError(f"checkpoint is missing {', '.join(missing)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "checkpoint", error=CheckpointError) as handle:
        torch.save(payload, handle)  # through a Python file, so a write error is an OSError


def load_checkpoint(path: str | os.PathLike, kind: str) -> dict:
    """Read and check a checkpoint of the given kind ("coconet", "accompany", ...)."""
    import pickle
    import re
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch names the offending global ("Unsupported global: GLOBAL os.system ..."); any
        # other unpickling failure is a file that is not a checkpoint at all.
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found is None:
            raise CheckpointError(
                f"{path.name} is not a readable checkpoint (damaged or truncated)") from exc
        raise CheckpointError(
            f"refused to load {path.name}: it holds code, not just weights ({found.group(1)})"
        ) from exc
    except (RuntimeError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path.name} is not a readable checkpoint (damaged or truncated)") from exc
    if not isinstance(payload, dict) or any(k not in payload for k in REQUIRED_KEYS):
        raise CheckpointError(f"{path.name} is not a cantor checkpoint (no kind/config/weights)")
    if payload["kind"] != kind:
        raise CheckpointError(f"{path.name} holds a {payload['kind']!r} model, expected {kind!r}")
    return payload
