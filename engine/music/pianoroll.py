"""The model's view of a score: pitch classes 36..81 (Coconet's range) plus a silence class.

Silence is its own class (index `SILENCE_CLASS` = 46), so the model can predict rests and a one-hot
row always sums to 1. Evaluation reports NLL both over non-silent cells and over all cells.
"""

from __future__ import annotations

import numpy as np

from engine.errors import PitchRangeError
from engine.music.score import VOICE_NAMES

MODEL_LOW, MODEL_HIGH = 36, 81
NUM_PITCHES = MODEL_HIGH - MODEL_LOW + 1  # 46
SILENCE_CLASS = NUM_PITCHES  # 46
NUM_CLASSES = NUM_PITCHES + 1  # 47


def in_model_range(pitches: np.ndarray) -> bool:
    sounding = pitches[pitches >= 0]
    return bool(sounding.size == 0 or (sounding.min() >= MODEL_LOW and sounding.max() <= MODEL_HIGH))


def to_classes(pitches: np.ndarray) -> np.ndarray:
    """MIDI pitches (-1 = silence), any shape -> class indices int64; raises if out of range."""
    pitches = np.asarray(pitches)
    sounding = pitches >= 0
    bad = sounding & ((pitches < MODEL_LOW) | (pitches > MODEL_HIGH))
    if bad.any():
        where = np.argwhere(bad)[0]
        voice = VOICE_NAMES[where[-2]].lower() if pitches.ndim >= 2 and where[-2] < 4 else "a voice"
        raise PitchRangeError(
            f"pitch {int(pitches[tuple(where)])} in {voice} is outside the model's range"
            f" {MODEL_LOW}..{MODEL_HIGH}"
        )
    return np.where(sounding, pitches.astype(np.int64) - MODEL_LOW, SILENCE_CLASS)


def to_pitches(classes: np.ndarray) -> np.ndarray:
    """Class indices -> MIDI pitches int16 with -1 for silence."""
    classes = np.asarray(classes)
    return np.where(classes == SILENCE_CLASS, -1, classes + MODEL_LOW).astype(np.int16)
