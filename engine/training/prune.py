"""A bottleneck net cut from a trained one: each residual pair keeps the inner channels that carry most.

A residual pair computes x + f(x) with f = second(relu(first(x))). Narrowing its inner layer from
`width` to `inner` channels (CoconetConfig.inner) drops the first layer's output channels, and the
second layer's input channels, that the pair's output depends on least. A channel's share is
measured on real inputs: its mean activation after the ReLU, times the size of the weights that
read it (the second layer's, with that layer's batch norm folded in). The residual stream, the input
and the output convolutions are kept whole, so the cut net starts close to the original and a short
distillation (`teacher` in engine/training/coconet.py) brings it closer.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from engine.coconet.model import Coconet, CoconetConfig
from engine.errors import CantorError


@torch.no_grad()
def inner_importance(model: Coconet, probe: Iterable[tuple]) -> list[torch.Tensor]:
    """Per residual pair, a (inner,) score of each inner channel over the `probe` inputs, each a
    (classes, mask, cond) tuple as the net's forward takes (cond may be None)."""
    firsts = list(model.layers[0::2])
    sums = [torch.zeros(layer.norm.num_features) for layer in firsts]
    count = 0

    def hook(index):
        def record(_module, _inputs, output):
            sums[index].add_(output.relu().mean(dim=(0, 2, 3)) * output.shape[0])
        return record

    if model.config.separable:
        raise CantorError("pruning runs on plain (not separable) convolutions only")
    handles = [layer.register_forward_hook(hook(i)) for i, layer in enumerate(firsts)]
    was_training = model.training
    model.eval()
    try:  # the hooks read each first layer's output before the caller's in-place ReLU
        for classes, mask, cond in probe:
            model(classes, mask, cond)
            count += classes.shape[0]
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    if not count:
        raise CantorError("pruning needs at least one probe batch")
    scores = []
    for index, second in enumerate(model.layers[1::2]):
        norm = second.norm
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        reads = (second.conv.weight * scale.reshape(-1, 1, 1, 1)).pow(2).sum(dim=(0, 2, 3)).sqrt()
        scores.append(sums[index] / count * reads)
    return scores


@torch.no_grad()
def narrower(model: Coconet, inner: int, probe: Iterable[tuple]) -> Coconet:
    """A copy of `model` whose residual pairs keep `inner` inner channels: those that score
    highest on `probe` (inner_importance), in their original order."""
    config = model.config
    if not 1 <= inner <= config.inner_width:
        raise CantorError(f"inner must be 1..{config.inner_width} to cut from this net; got {inner}")
    scores = inner_importance(model, probe)
    cut = Coconet(CoconetConfig(**{**config.to_dict(), "inner": inner}))
    state = dict(model.state_dict())  # indexing below copies what it cuts
    for pair, score in enumerate(scores):
        keep = torch.sort(torch.topk(score, inner).indices).values
        first, second = f"layers.{2 * pair}", f"layers.{2 * pair + 1}"
        state[f"{first}.conv.weight"] = state[f"{first}.conv.weight"][keep]
        for name in ("weight", "bias", "running_mean", "running_var"):
            state[f"{first}.norm.{name}"] = state[f"{first}.norm.{name}"][keep]
        state[f"{second}.conv.weight"] = state[f"{second}.conv.weight"][:, keep]
    cut.load_state_dict(state)
    return cut.train(model.training)


__all__ = ["inner_importance", "narrower"]
