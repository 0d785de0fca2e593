"""Orderless NLL per cell, the evaluation protocol of DESIGN.md.

For each whole piece, K masks are drawn (m ~ U{1..4T}, then m uniformly random cells); a draw's
NLL is the mean of -log p(x_cell | unmasked cells) over its masked cells (non-silent cells only for
`nll_per_cell`, every masked cell for `nll_per_cell_with_silence`). Figures are the mean over all
(piece, draw) pairs; a draw whose masked cells are all silent has no non-silent figure and is
left out of that mean only. Masks come from one torch.Generator seeded with `seed`, drawn piece
by piece in split order, so a (model, split, draws, seed) tuple always gives the same number.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from engine.coconet.masks import orderless_mask
from engine.music.pianoroll import SILENCE_CLASS


def draw_nlls(model, classes: torch.Tensor, masks: torch.Tensor) -> tuple[list, list]:
    """One piece (4, T) and K masks (K, 4, T) -> per-draw mean NLL (non-silent, all masked)."""
    k = masks.shape[0]
    batch = classes.unsqueeze(0).expand(k, -1, -1).contiguous()
    logits = model(batch, masks).float()
    num_classes = logits.shape[-1]
    logp = torch.log_softmax(logits, dim=-1)
    target = batch.clamp(max=num_classes - 1)
    nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (K, 4, T)
    sounding = batch != SILENCE_CLASS
    # A model without a silence class cannot score silent cells: they get no figure.
    scorable = sounding if num_classes <= SILENCE_CLASS else torch.ones_like(sounding)
    nonsilent, everything = [], []
    for d in range(k):
        cells = masks[d] & sounding[d]
        if cells.any():
            nonsilent.append(float(nll[d][cells].mean()))
        cells_all = masks[d] & scorable[d]
        if cells_all.any():
            everything.append(float(nll[d][cells_all].mean()))
    return nonsilent, everything


def orderless_nll(model, pieces: list[np.ndarray], *, draws: int = 8, seed: int = 0,
                  max_batch: int = 8, progress: Callable[[int, int], None] | None = None
                  ) -> dict:
    """Expected NLL per masked cell over random orderings, on whole pieces of model classes."""
    if draws < 1:
        raise ValueError(f"draws must be >= 1; got {draws}")
    generator = torch.Generator().manual_seed(seed)
    nonsilent: list[float] = []
    everything: list[float] = []
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    start = time.perf_counter()
    try:
        with torch.inference_mode():
            for i, piece in enumerate(pieces):
                classes = torch.as_tensor(np.asarray(piece), dtype=torch.long)
                masks = orderless_mask(draws, classes.shape[1], generator)
                for lo in range(0, draws, max_batch):
                    a, b = draw_nlls(model, classes, masks[lo:lo + max_batch])
                    nonsilent += a
                    everything += b
                if progress:
                    progress(i + 1, len(pieces))
    finally:
        if was_training:
            model.train()
    return {
        "pieces": len(pieces),
        "draws": draws,
        "seed": seed,
        "nll_per_cell": _mean(nonsilent),
        "nll_per_cell_with_silence": _mean(everything),
        "seconds": round(time.perf_counter() - start, 3),
    }


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def format_nll(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"
