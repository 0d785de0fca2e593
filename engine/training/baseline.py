"""A trivial reference model: each voice's pitch frequencies in the training data.

It ignores the context entirely, so its orderless NLL is the floor any real model must beat.
It has Coconet's forward interface, so `engine.training.evaluate` scores it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.music.pianoroll import NUM_CLASSES


@dataclass
class BaselineConfig:
    """The baseline's only knob."""

    smoothing: float = 1.0
    """Add-k smoothing of the per-voice class counts."""

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES


class VoiceFrequencyBaseline(nn.Module):
    """log p(class | voice) from training counts, the same for every step and context."""

    def __init__(self, log_probs: torch.Tensor, config: BaselineConfig | None = None) -> None:
        super().__init__()
        self.config = config or BaselineConfig()
        self.register_buffer("log_probs", log_probs)  # (4, classes)

    @classmethod
    def fit(cls, pieces: list[np.ndarray], smoothing: float = 1.0) -> VoiceFrequencyBaseline:
        """Count classes per voice over pieces of model classes (4, T)."""
        counts = np.full((4, NUM_CLASSES), smoothing, dtype=np.float64)
        for piece in pieces:
            for voice in range(4):
                counts[voice] += np.bincount(piece[voice], minlength=NUM_CLASSES)[:NUM_CLASSES]
        probs = counts / counts.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore"):  # unseen classes without smoothing: log 0 = -inf
            log_probs = np.log(probs)
        return cls(torch.tensor(log_probs, dtype=torch.float32), BaselineConfig(smoothing))

    def forward(self, classes: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, v, t = classes.shape
        return self.log_probs[:v].reshape(1, v, 1, -1).expand(b, v, t, -1)
