"""Orderless NLL per cell, the evaluation protocol of DESIGN.md.

For each whole piece, K masks are drawn with stratified sizes (draw k of K masks
m_k = floor((k + u) / K * D) + 1 cells, D = 4T, one u ~ U[0, 1) per piece: still uniform over 1..D,
with far less Monte-Carlo error than K independent sizes), each a uniformly random set of cells; a
draw's NLL is the mean of -log p(x_cell | unmasked cells) over its masked cells (non-silent cells only
for `nll_per_cell`, every masked cell for `nll_per_cell_with_silence`). `nll_per_cell` averages over
draws, then over pieces (piece-weighted); `nll_per_cell_cells` weighs every masked non-silent cell
alike. A model that reads structure planes sees each piece framed by explicit outside frames, with the
piece's structure when given (else unknown). Masks come from one torch.Generator seeded with `seed`,
drawn piece by piece in split order, so a (model, split, draws, seed) tuple always gives the same number.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from engine.coconet.masks import orderless_mask
from engine.music.pianoroll import SILENCE_CLASS


def stratified_mask(draws: int, steps: int, generator: torch.Generator) -> torch.Tensor:
    """(draws, 4, steps) bool: draw k masks floor((k + u) / K * D) + 1 uniformly random cells."""
    cells = 4 * steps
    u = float(torch.rand(1, generator=generator))
    counts = torch.tensor([min(cells, int((k + u) / draws * cells) + 1) for k in range(draws)])
    ranks = torch.rand(draws, cells, generator=generator).argsort(dim=1).argsort(dim=1)
    return (ranks < counts[:, None]).reshape(draws, 4, steps)


def draw_nlls(model, classes: torch.Tensor, masks: torch.Tensor, cond: torch.Tensor | None = None,
              cells_out: list | None = None) -> tuple[list, list]:
    """One piece (4, T) and K masks (K, 4, T) -> per-draw mean NLL (non-silent, all masked)."""
    k = masks.shape[0]
    batch = classes.unsqueeze(0).expand(k, -1, -1).contiguous()
    logits = (model(batch, masks) if cond is None else model(batch, masks, cond)).float()
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
            if cells_out is not None:
                cells_out.append((float(nll[d][cells].sum()), int(cells.sum())))
        cells_all = masks[d] & scorable[d]
        if cells_all.any():
            everything.append(float(nll[d][cells_all].mean()))
    return nonsilent, everything


def orderless_nll(model, pieces: list[np.ndarray], *, draws: int = 8, seed: int = 0,
                  max_batch: int = 8, progress: Callable[[int, int], None] | None = None,
                  structures: list | None = None, stratified: bool = True) -> dict:
    """Expected NLL per masked cell over random orderings, on whole pieces of model classes."""
    if draws < 1:
        raise ValueError(f"draws must be >= 1; got {draws}")
    generator = torch.Generator().manual_seed(seed)
    per_piece: list[float] = []
    per_piece_all: list[float] = []
    cells: list[tuple[float, int]] = []
    planes_needed = bool(getattr(getattr(model, "config", None), "cond_planes", 0))
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    start = time.perf_counter()
    try:
        with torch.inference_mode():
            for i, piece in enumerate(pieces):
                piece = np.asarray(piece)
                steps = piece.shape[1]
                masks = (stratified_mask if stratified else orderless_mask)(draws, steps, generator)
                classes, cond = torch.as_tensor(piece, dtype=torch.long), None
                if planes_needed:
                    classes, masks, cond = _framed(piece, masks, structures, i)
                nonsilent, everything = [], []
                for lo in range(0, draws, max_batch):
                    a, b = draw_nlls(model, classes, masks[lo:lo + max_batch], cond, cells)
                    nonsilent += a
                    everything += b
                if nonsilent:
                    per_piece.append(float(np.mean(nonsilent)))
                if everything:
                    per_piece_all.append(float(np.mean(everything)))
                if progress:
                    progress(i + 1, len(pieces))
    finally:
        if was_training:
            model.train()
    total, count = sum(c[0] for c in cells), sum(c[1] for c in cells)
    return {
        "pieces": len(pieces),
        "draws": draws,
        "seed": seed,
        "stratified": stratified,
        "nll_per_cell": _mean(per_piece),
        "nll_per_cell_cells": total / count if count else None,
        "nll_per_cell_with_silence": _mean(per_piece_all),
        "seconds": round(time.perf_counter() - start, 3),
    }


def _framed(piece: np.ndarray, masks: torch.Tensor, structures: list | None, index: int):
    """The piece framed by outside frames with its structure planes; masks only inside it."""
    from engine.coconet.structure import Structure
    from engine.training.structured import framed_piece

    structure = structures[index] if structures and structures[index] is not None else None
    classes, inside, planes = framed_piece(piece, structure or Structure(piece.shape[1]))
    framed = torch.zeros(masks.shape[0], 4, classes.shape[1], dtype=torch.bool)
    framed[:, :, inside] = masks
    return torch.from_numpy(classes), framed, torch.from_numpy(planes)[None]


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def format_nll(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"
