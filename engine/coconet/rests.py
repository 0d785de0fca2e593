"""No rests under a sounding melody: generated voices do not drop out where kept notes sound.

Coconet predicts silence as one more class, and on melodies unlike its training set it sometimes
leaves the tenor or the bass silent for a beat or two under a sounding melody; the part-writing
checker does not look at rests, so the repair never fills them. A generated cell at a step where some
kept cell sounds may therefore not be silent: its silence logit is pushed to -1e9 before drawing, so
the model chooses among pitches only there (and its probabilities are renormalized over them).

Where no kept note sounds (the user erased every voice of a bar, or the melody rests), silence stays
allowed. A voice the user wants silent stays silent when its silent cells are kept, not generated.

The rule travels as four extra planes after the model's own conditioning planes (one per voice, 1
where silence is not allowed), so windowing and batching crop and pick them like any plane;
`GuardedModel` splits them off and applies them to the logits.
"""

from __future__ import annotations

import numpy as np

from engine.music.pianoroll import SILENCE_CLASS
from engine.music.score import NUM_VOICES

BLOCKED = -1e9


def rest_forbidden(pitches: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(4, T) bool: generated cells (`mask`) at steps where a kept cell of `pitches` sounds."""
    kept_sounding = ((~mask) & (pitches >= 0)).any(axis=0)
    return mask & kept_sounding[None, :]


def guard_planes(forbidden: np.ndarray, num_classes: int):
    """(1, 4, T, num_classes) float tensor of a (4, T) rule, broadcast over pitch."""
    import torch

    planes = np.repeat(forbidden.astype(np.float32)[:, :, None], num_classes, axis=2)
    return torch.from_numpy(planes).unsqueeze(0)


class GuardedModel:
    """A Coconet whose conditioning ends with NUM_VOICES rest-rule planes (see the module doc)."""

    def __init__(self, model) -> None:
        self.model = model
        self.config = model.config
        self.takes_span = getattr(model, "takes_span", False)

    def __call__(self, classes, mask, cond=None, **span):
        import torch

        if cond is None:
            return self.model(classes, mask, **span)
        own = self.config.cond_planes
        guard = cond[:, own:own + NUM_VOICES, :, 0] > 0.5  # (1 or B, 4, T)
        logits = (self.model(classes, mask, **span) if not own
                  else self.model(classes, mask, cond[:, :own], **span))
        silence = logits[..., SILENCE_CLASS]
        blocked = torch.full_like(silence, BLOCKED)
        logits[..., SILENCE_CLASS] = torch.where(guard.expand_as(silence), blocked, silence)
        return logits


def guarded(model, cond, forbidden: np.ndarray):
    """(model, cond) that apply the rule `forbidden` ((4, T) bool, framed like `cond`); unchanged
    when it forbids nothing."""
    if not forbidden.any() or model.config.num_classes <= SILENCE_CLASS:  # no silence class
        return model, cond
    planes = guard_planes(forbidden, model.config.num_classes)
    if cond is None:
        return GuardedModel(model), planes
    import torch

    return GuardedModel(model), torch.cat([cond, planes], dim=1)
