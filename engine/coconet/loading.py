"""Save and load Coconet checkpoints (self-describing; see engine/coconet/checkpoint.py)."""

from __future__ import annotations

import os
from pathlib import Path

from engine.coconet.checkpoint import load_checkpoint, save_checkpoint
from engine.coconet.defaults import MODEL_NAMES
from engine.errors import CheckpointError

DEFAULT_COCONET = Path(__file__).resolve().parents[1] / "weights" / "coconet.pt"
FAST_COCONET = DEFAULT_COCONET.with_name("coconet-fast.pt")
MODELS = dict(zip(MODEL_NAMES, (DEFAULT_COCONET, FAST_COCONET), strict=True))
"""The shipped models by name. "fast" is a bottleneck student of "standard" (same depth, each
residual pair 32 -> 16 -> 32 channels), distilled from it: about half the time a pass where the
net runs in fp32, a little weaker as music (engine/weights/coconet.md, "The fast model")."""
KIND = "coconet"


def model_checkpoint(name: str) -> Path:
    """The shipped checkpoint of the model called `name` ("standard" or "fast")."""
    try:
        return MODELS[name]
    except KeyError:
        raise CheckpointError(
            f"model must be one of {', '.join(MODELS)}; got {name!r}") from None


def coconet_payload(model, *, step: int, metrics: dict, data: dict, extra: dict | None = None
                    ) -> dict:
    """The checkpoint dict of a (not fused) Coconet."""
    if getattr(model, "fused", False):
        raise CheckpointError("cannot save a model fused for inference; save the trained model")
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    payload = {
        "kind": KIND,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "step": int(step),
        "metrics": dict(metrics),
        "data": dict(data),
    }
    if extra:
        payload["extra"] = dict(extra)
    return payload


def save_coconet(path: str | os.PathLike, model, *, step: int, metrics: dict, data: dict,
                 extra: dict | None = None) -> None:
    """Write a Coconet checkpoint atomically."""
    save_checkpoint(path, coconet_payload(model, step=step, metrics=metrics, data=data, extra=extra))


def model_from_payload(payload: dict, name: str = "checkpoint"):
    """Rebuild the network of a loaded coconet payload (train mode, not fused)."""
    from engine.coconet.model import Coconet, config_from_dict

    try:
        model = Coconet(config_from_dict(dict(payload["config"])))
        model.load_state_dict(payload["state_dict"])
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        # torch's state-dict message starts with a header line ("Error(s) in loading ...:"):
        # the first line that names a key or a shape says what is wrong.
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        if len(lines) > 1 and lines[0].endswith(":"):
            lines = lines[1:]
        first = lines[0] if lines else type(exc).__name__
        raise CheckpointError(f"{name} does not match the Coconet network ({first[:120]})") from exc
    model.float()
    return model


def load_coconet(path: str | os.PathLike | None = None, *, for_inference: bool = True):
    """Load a Coconet in eval mode (default: the shipped weights); fuse batch norm for inference."""
    if path is None:
        path = DEFAULT_COCONET
        if not path.is_file():
            raise CheckpointError(
                "no trained model is shipped in engine/weights/coconet.pt; "
                "train one with `cantor train coconet` and pass --checkpoint")
    path = Path(path)
    payload = load_checkpoint(path, KIND)
    model = model_from_payload(payload, path.name)
    model.eval()
    model.checkpoint_info = {k: payload.get(k) for k in ("step", "metrics", "data")}
    if for_inference:
        model = model.fuse_for_inference()
    return model


__all__ = ["DEFAULT_COCONET", "FAST_COCONET", "MODELS", "coconet_payload", "load_coconet",
           "model_checkpoint", "model_from_payload", "save_coconet"]
