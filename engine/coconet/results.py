"""What a generation request gives back: ranked variants, and progress while they are drawn."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.music.score import Score


@dataclass
class Variant:
    score: Score  # the whole score, generated cells filled in (onsets merged where generated)
    nll: float  # model's mean NLL per generated cell (pseudo-likelihood), lower = better
    seed: int


@dataclass
class Progress:
    step: int
    total: int
    pitches: np.ndarray  # (N, 4, T) current draft of each variant, MIDI pitches, -1 silence
    changed: np.ndarray  # (N, 4, T) bool: cells rewritten this step
    scores: np.ndarray  # (N,) running mean NLL per variant
    confidence: np.ndarray | None = None  # (N, 4, T) probability of each current cell, if asked


@dataclass
class Result:
    variants: list[Variant]  # best first; empty when cancelled
    messages: list[str] = field(default_factory=list)
    cancelled: bool = False
