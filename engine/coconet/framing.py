"""Framing a request for a structure-aware model: the piece's real start and end, meter, phrase ends, key.

A model trained with structure planes (engine/coconet/structure.py) saw a piece's real start and end as
EDGE explicit "outside" frames around it. The Composer gives it the same: the score grows EDGE silent
steps on each side (never generated, marked outside), and the planes say what is known of the piece:

- meter and pickup: always (the score has them);
- phrase ends: the score's own fermatas; if it has none, the guess from the melody that the composer
  shows (engine/music/phrase_guess.py, where Bach would put them, and the last note); unknown when the
  melody is being generated and has no kept notes;
- key: the score's own key; else the estimate from the kept melody notes (the composer shows the
  same estimate), else from all kept notes; unknown when nothing is kept.

Guesses and estimates are made from the kept cells only, so what is being generated never steers
its own conditioning. A model without structure planes gets no frame and no planes.
"""

from __future__ import annotations

import numpy as np

from engine.coconet.structure import EDGE, Structure, planes
from engine.music.analysis import estimate_key
from engine.music.keys import parse_key
from engine.music.phrase_guess import guess_phrase_ends
from engine.music.score import SILENCE, Score


def edge_of(model) -> int:
    """Frames put before and after the piece for `model`: EDGE if it reads structure planes, else 0."""
    return EDGE if getattr(getattr(model, "config", None), "cond_planes", 0) else 0


def structure_for(score: Score, mask: np.ndarray) -> Structure:
    """What the model is told of `score` when the cells of `mask` are to be generated."""
    known = score.with_cells(mask, np.full(score.pitches.shape, SILENCE, dtype=np.int16))
    melody_known = bool((known.pitches[0] >= 0).any())
    if score.fermatas is not None:
        fermatas = np.asarray(score.fermatas, dtype=bool)
    elif melody_known:
        fermatas = guess_phrase_ends(known)
    else:
        fermatas = None
    return Structure(score.num_steps, (score.steps_per_bar, score.steps_per_beat), score.pickup,
                     fermatas, known_key(score, mask, known))


def known_key(score: Score, mask: np.ndarray, known: Score | None = None):
    """(tonic pitch class, minor) the model is told: the score's key, else the estimate from the
    kept melody, else from all kept notes; None when nothing is kept. `known`: the score with the
    cells of `mask` silenced, when the caller has it."""
    if score.key:
        return parse_key(score.key)
    if known is None:
        known = score.with_cells(mask, np.full(score.pitches.shape, SILENCE, dtype=np.int16))
    melody_known = bool((known.pitches[0] >= 0).any())
    name = estimate_key(known) if melody_known else estimate_key(known, (0, 1, 2, 3))
    return parse_key(name) if name else None


def frame(score: Score, mask: np.ndarray, edge: int) -> tuple[Score, np.ndarray]:
    """`score` with `edge` silent steps before and after (bar positions kept), and its mask (False there)."""
    if not edge:
        return score, mask
    pad = Score.empty(edge, **score.meta())
    framed = pad.concat(score).concat(pad).replace(pickup=(score.pickup + edge) % score.steps_per_bar)
    framed_mask = np.zeros((mask.shape[0], mask.shape[1] + 2 * edge), dtype=bool)
    framed_mask[:, edge:edge + mask.shape[1]] = mask
    return framed, framed_mask


def conditioning(score: Score, mask: np.ndarray, edge: int):
    """Structure planes (1, C, T + 2 edge, P) as a float tensor for `score`, or None when edge is 0."""
    if not edge:
        return None
    import torch

    return torch.from_numpy(planes(structure_for(score, mask), edge, edge)).unsqueeze(0)
