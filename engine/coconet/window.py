"""Windowed generation: run the network only on the steps that can change the cells being written.

A cell's logits depend only on the input within the network's receptive field, `radius` steps each
side (exact for the config: kernel and dilations give it). So to write the cells of a mask, the
network needs the masked steps plus `radius` steps of context each side, clipped to the tensor.
Separate regions give separate windows; they are concatenated along time into one tensor. That is
exact too: every masked step sits at least `radius` steps from any seam between two windows, and a
window edge that is a tensor edge stays a tensor edge, so each masked cell sees exactly what it saw
in the whole tensor.

The windowing knows nothing of what the time axis holds: it crops whatever full tensors the sampler
sees (classes, masks and optional conditioning planes, including any frames a caller put outside the
piece), and pastes results back.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def receptive_field(config) -> int:
    """Steps each side of a cell whose input can change the network's output at that cell."""
    half = (int(config.kernel) - 1) // 2
    dilations = [int(config.dilation[i % len(config.dilation)]) for i in range(int(config.depth))]
    # input convolution + every hidden layer (dilated) + output convolution
    return half * (2 + sum(dilations))


# The span pyramid (model.py) costs about (span + receptive field) / T of the whole pass, measured
# (1 thread, T = 160: a 20-step span 0.56, a 128-step span 1.23; T = 64 with a 32-step span 1.64),
# so a span is used only when that estimate is at most this share of the whole pass.
SPAN_WORTH = 0.75


def run_net(model, classes: torch.Tensor, mask: torch.Tensor, cond: torch.Tensor | None = None,
            wanted: torch.Tensor | None = None):
    """The network's logits; `cond` is passed on only when given (plain models take two inputs).

    `wanted` (..., T) marks the cells whose logits will be read: a model that `takes_span`
    then computes only the steps from the first to the last of them (model.py), exactly; the
    logits elsewhere are zero. Samplers pass the cells they redraw in a pass."""
    span = None
    if wanted is not None and getattr(model, "takes_span", False):
        span = span_of(wanted, receptive_field(model.config))
    kwargs = {} if span is None else {"span": span}
    return model(classes, mask, **kwargs) if cond is None else model(classes, mask, cond, **kwargs)


def span_of(wanted: torch.Tensor, reach: int = 0) -> tuple[int, int] | None:
    """[first, last + 1) of the steps holding a cell of `wanted` (..., T), or None when nothing is
    wanted or the span's pyramid (about span + `reach` steps a layer) would not save a quarter."""
    steps = wanted.shape[-1]
    active = wanted.reshape(-1, steps).any(0).nonzero().flatten()
    if not active.numel():
        return None
    lo, hi = int(active[0]), int(active[-1]) + 1
    return None if hi - lo + reach > SPAN_WORTH * steps else (lo, hi)


def rows(cond: torch.Tensor | None, index: torch.Tensor | list[int]):
    """The batch rows `index` of a conditioning tensor whose batch is N or 1 (shared)."""
    if cond is None or cond.shape[0] == 1:
        return cond
    return cond[index]


@dataclass(frozen=True)
class Window:
    """The steps `columns` (increasing) of a time axis of `length` steps, cropped as one tensor."""

    columns: torch.Tensor
    length: int

    @property
    def width(self) -> int:
        return int(self.columns.numel())

    def crop(self, tensor: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """The window's steps of `tensor` along `dim` (-1 for classes and masks, 2 for planes)."""
        return tensor.index_select(dim, self.columns)

    def crop_cond(self, cond: torch.Tensor | None) -> torch.Tensor | None:
        """Conditioning planes (N, C, T, P) cropped along their time axis (dim 2)."""
        return None if cond is None else cond.index_select(2, self.columns)

    def paste(self, full: torch.Tensor, part: torch.Tensor) -> torch.Tensor:
        """Write `part` (..., width) into the window's steps of `full` (..., length), in place."""
        full[..., self.columns] = part
        return full

    def __repr__(self) -> str:
        return f"Window(width={self.width}, length={self.length})"


def spans(active: torch.Tensor) -> list[tuple[int, int]]:
    """[start, end) runs of True in a 1-D bool tensor."""
    steps = active.nonzero().flatten().tolist()
    runs: list[tuple[int, int]] = []
    for step in steps:
        if runs and runs[-1][1] == step:
            runs[-1] = (runs[-1][0], step + 1)
        else:
            runs.append((step, step + 1))
    return runs


def window_for(active: torch.Tensor, radius: int) -> Window | None:
    """The window covering the True steps of `active` (T,) plus `radius` each side, or None when
    it would hold (nearly) every step anyway and the whole tensor is the cheaper choice."""
    length = int(active.shape[-1])
    covered = torch.zeros(length, dtype=torch.bool)
    for start, end in spans(active):
        covered[max(0, start - radius) : min(length, end + radius)] = True
    columns = covered.nonzero().flatten()
    if columns.numel() >= length:
        return None
    return Window(columns, length)


def model_window(model, mask: torch.Tensor, enabled: bool = True,
                 radius: int | None = None) -> Window | None:
    """The window a sampler needs for the cells of `mask` (..., T) with this model, or None;
    `radius` narrows the context each side (default: the receptive field, exact)."""
    if not enabled:
        return None
    active = mask.reshape(-1, mask.shape[-1]).any(0)
    return window_for(active, receptive_field(model.config) if radius is None else radius)


def masked_columns(mask: torch.Tensor) -> torch.Tensor:
    """Indices of the steps where any cell of `mask` (..., T) is set; randomness is drawn for these
    alone, so a sampler draws the same numbers whether it runs on a window or on the whole tensor."""
    return mask.reshape(-1, mask.shape[-1]).any(0).nonzero().flatten()


def spread(values: torch.Tensor, columns: torch.Tensor, length: int, fill: float = 0.5):
    """(N, V, len(columns), C) values -> (N, V, length, C), `fill` on the other steps."""
    n, voices, _, classes = values.shape
    out = torch.full((n, voices, length, classes), fill, dtype=values.dtype)
    out[:, :, columns] = values
    return out


__all__ = ["Window", "masked_columns", "model_window", "receptive_field", "rows", "run_net",
           "span_of", "spans", "spread", "window_for"]
