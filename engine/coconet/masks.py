"""Training and evaluation masks over (voice, step) cells; True = unknown, to be predicted.

`orderless_mask` is Coconet's (orderless NADE) distribution: for each example a count m is drawn
uniformly from 1..4T, then m cells uniformly at random. `bernoulli_mask` masks each cell
independently with probability p, for comparison.
"""

from __future__ import annotations

import torch


def orderless_mask(batch: int, steps: int, generator: torch.Generator | None = None,
                   voices: int = 4) -> torch.Tensor:
    """(batch, voices, steps) bool: m ~ U{1..voices*steps} uniformly chosen cells per example."""
    cells = voices * steps
    counts = torch.randint(1, cells + 1, (batch, 1), generator=generator)
    # The rank of a uniform random key is a uniform random permutation of the cells.
    ranks = torch.rand(batch, cells, generator=generator).argsort(dim=1).argsort(dim=1)
    return (ranks < counts).reshape(batch, voices, steps)


def bernoulli_mask(batch: int, steps: int, p: float = 0.5,
                   generator: torch.Generator | None = None, voices: int = 4) -> torch.Tensor:
    """(batch, voices, steps) bool: each cell masked independently with probability p."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in range 0..1; got {p}")
    return torch.rand(batch, voices, steps, generator=generator) < p


def masked_nll(logits: torch.Tensor, classes: torch.Tensor, mask: torch.Tensor,
               weights: torch.Tensor | None = None) -> torch.Tensor:
    """Per-example mean NLL over masked cells (unmasked cells do not count) -> (B,).

    This is Coconet's rescaled loss: the sum over masked cells divided by their number, so every
    example weighs the same whatever its mask size. An example with no masked cell gives 0.
    With `weights` (B, 4, T), a weighted mean over the masked cells instead.
    """
    nll = torch.nn.functional.cross_entropy(
        logits.float().permute(0, 3, 1, 2), classes, reduction="none")  # (B, 4, T)
    return _masked_mean(nll, mask, weights)


def distilled_nll(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                  weights: torch.Tensor | None = None) -> torch.Tensor:
    """`masked_nll` with soft targets: per example, the mean over masked cells of the
    cross-entropy from a teacher's distribution (softmax of `target` logits) to `logits`, (B,)."""
    log_q = torch.log_softmax(logits.float(), dim=-1)
    p = torch.softmax(target.float(), dim=-1)
    return _masked_mean(-(p * log_q).sum(-1), mask, weights)


def _masked_mean(nll: torch.Tensor, mask: torch.Tensor,
                 weights: torch.Tensor | None) -> torch.Tensor:
    """(B, 4, T) values -> (B,) their (weighted) mean over each example's masked cells, 0 for none."""
    maskf = mask.to(nll.dtype) if weights is None else mask.to(nll.dtype) * weights
    return (nll * maskf).sum(dim=(1, 2)) / maskf.sum(dim=(1, 2)).clamp(min=1.0)


def mask_kinds() -> tuple[str, ...]:
    return ("orderless", "bernoulli")


def make_mask(kind: str, batch: int, steps: int, generator: torch.Generator | None = None
              ) -> torch.Tensor:
    """A batch of masks of the named kind."""
    if kind == "orderless":
        return orderless_mask(batch, steps, generator)
    if kind == "bernoulli":
        return bernoulli_mask(batch, steps, 0.5, generator)
    raise ValueError(f"unknown mask kind {kind!r}: choose one of {', '.join(mask_kinds())}")
