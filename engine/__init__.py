"""cantor's engine: everything musical and numerical. Never imports the UI."""

from engine.errors import (
    AudioUnavailable,
    CantorError,
    CheckpointError,
    MidiFileError,
    PitchRangeError,
    ScoreError,
)
from engine.score import Score

__all__ = [
    "AudioUnavailable",
    "CantorError",
    "CheckpointError",
    "MidiFileError",
    "PitchRangeError",
    "Score",
    "ScoreError",
]
