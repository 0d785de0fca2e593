"""Checks on a loaded checkpoint before anything is built from it: sane config bounds, finite weights.

A checkpoint is data from anywhere: a 2 KB file that says `depth: 2000000` must be refused at once,
not after minutes of allocating layers; weights holding NaN or Inf would sample garbage quietly.
"""

from __future__ import annotations

from engine.errors import CheckpointError

# Far above any network that runs at an interactive pace on a CPU (the shipped one is 16 x 64 x 3).
COCONET_BOUNDS = {
    "depth": (2, 256),
    "width": (1, 1024),
    "kernel": (1, 15),
    "cond_planes": (0, 64),
}
MAX_DILATION = 256
MAX_PARAMETERS = 200_000_000  # about 800 MB of float32 weights


def check_coconet_config(config, name: str = "checkpoint") -> None:
    """Raise CheckpointError unless `config` (a dict) describes a Coconet of sane size."""
    if not isinstance(config, dict):
        raise CheckpointError(f"{name} is not a cantor checkpoint (its config is not a table)")
    for key, (low, high) in COCONET_BOUNDS.items():
        if key not in config:
            continue
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise CheckpointError(
                f"{name} is not a usable checkpoint: {key} must be an integer in range"
                f" {low}..{high}; got {_short(value)}")
    dilation = config.get("dilation", [1])
    if (not isinstance(dilation, (list, tuple)) or not 1 <= len(dilation) <= COCONET_BOUNDS["depth"][1]
            or any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= MAX_DILATION
                   for d in dilation)):
        raise CheckpointError(
            f"{name} is not a usable checkpoint: dilation must be 1..{COCONET_BOUNDS['depth'][1]}"
            f" integers in range 1..{MAX_DILATION}; got {_short(dilation)}")
    depth, width, kernel = (config.get(k, 1) for k in ("depth", "width", "kernel"))
    parameters = depth * width * width * kernel * kernel
    if parameters > MAX_PARAMETERS:
        raise CheckpointError(
            f"{name} is not a usable checkpoint: depth {depth} x width {width} x kernel {kernel}"
            f" means {parameters:,} weights; cantor loads networks up to {MAX_PARAMETERS:,}")


def check_finite(state_dict, name: str = "checkpoint") -> None:
    """Raise CheckpointError when a floating-point tensor of the weights holds NaN or Inf."""
    import torch

    for key, value in _tensors(state_dict):
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(
                f"{name} is damaged: its weights {key} hold NaN or infinite values;"
                " use an earlier checkpoint or train again")


def _tensors(tree, prefix: str = ""):
    """(dotted name, tensor) for every tensor in nested dicts and lists."""
    import torch

    if isinstance(tree, torch.Tensor):
        yield prefix or "weights", tree
    elif isinstance(tree, dict):
        for key, value in tree.items():
            yield from _tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            yield from _tensors(value, f"{prefix}.{i}" if prefix else str(i))


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["check_coconet_config", "check_finite"]
