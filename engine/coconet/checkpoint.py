"""Self-describing checkpoints: kind, config, weights, step, metrics and data provenance.

Files are read with `torch.load(weights_only=True)`, so a pickle that tries to run code is refused
(and called that); weights are checked finite (engine/coconet/validate.py).
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
    """Read and check a checkpoint of the given kind ("coconet", "accompany", ...).

    Anything that is not a checkpoint (a text file, random bytes) is one CheckpointError; so are
    a pickle that would run code (named as such) and weights holding NaN or Inf."""
    import pickle

    import torch

    from engine.coconet.validate import check_coconet_config, check_finite

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        code = _code_named(str(exc)) or _code_in_pickle(path)
        if code is None:
            raise CheckpointError(
                f"{path.name} is not a readable checkpoint (damaged or truncated)") from exc
        raise CheckpointError(
            f"refused to load {path.name}: it holds code, not just weights ({code})") from exc
    except MemoryError:
        raise CheckpointError(f"{path.name} is not a readable checkpoint (too large)") from None
    except Exception as exc:  # torch raises KeyError, IndexError... on junk
        raise CheckpointError(
            f"{path.name} is not a readable checkpoint (damaged or truncated)") from exc
    if not isinstance(payload, dict) or any(k not in payload for k in REQUIRED_KEYS):
        raise CheckpointError(f"{path.name} is not a cantor checkpoint (no kind/config/weights)")
    if payload["kind"] != kind:
        hint = ("; a training state: give the run's best.pt" if payload["kind"] == "coconet-train"
                and kind == "coconet" else "")
        raise CheckpointError(f"{path.name} holds a {payload['kind']!r} model, expected {kind!r}{hint}")
    if kind.startswith("coconet"):  # "coconet" and its training state: checked before any build
        check_coconet_config(payload["config"], path.name)
    check_finite(payload["state_dict"], path.name)
    return payload


def _code_named(message: str) -> str | None:
    """The global torch's refusal names ("os.system"), in the wordings of torch 2.x."""
    import re

    found = re.search(r"[Uu]nsupported (?:global: )?GLOBAL (\S+)", message)
    return found.group(1).rstrip(".") if found else None


def _code_in_pickle(path: Path) -> str | None:
    """The first global outside torch's own that the pickle (bare, or torch's zip) would import."""
    import pickletools
    import zipfile

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                data = archive.read(name) if name else b""
        else:
            data = path.read_bytes()[: 16 << 20]
        strings: list[str] = []
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("GLOBAL", "INST"):
                strings.append(str(arg).replace(" ", "."))
            elif isinstance(arg, str):
                strings.append(arg)
            if op.name == "STACK_GLOBAL" and len(strings) >= 2:
                strings.append(f"{strings[-2]}.{strings[-1]}")
            if strings and op.name in ("GLOBAL", "INST", "STACK_GLOBAL"):
                found = strings[-1]
                if not found.startswith(("torch.", "collections.OrderedDict", "_codecs.")):
                    return found
    except Exception:  # noqa: BLE001 - a broken pickle simply names no code
        return None
    return None
