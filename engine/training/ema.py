"""An exponential moving average of a model's weights (what gets validated and shipped)."""

from __future__ import annotations

import copy

import torch


class WeightAverage:
    """avg <- decay * avg + (1 - decay) * weights after every step; buffers (batch-norm statistics)
    are copied as they are. `decay` 0 keeps no average (the model itself is used)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in range [0, 1); got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False) if decay else model

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        if not self.decay:
            return
        for avg, new in zip(self.model.parameters(), model.parameters()):
            avg.lerp_(new.detach(), 1.0 - self.decay)
        for avg, new in zip(self.model.buffers(), model.buffers()):
            avg.copy_(new)

    def state_dict(self) -> dict | None:
        return self.model.state_dict() if self.decay else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.decay and state is not None:
            self.model.load_state_dict(state)

    def __repr__(self) -> str:
        return f"WeightAverage(decay={self.decay})"
