"""cantor's engine: everything musical and numerical. Never imports the UI (`tui/`, `textual`,
`commands/`).

Packages, each importing only the ones below it (tests/test_layers.py checks this):

    benchmarks/   `cantor bench`                        (anything)
    training/     data sets, trainers, evaluation       (accompany, coconet, music)
    accompany/    VAE + surrogate, draft, trio layout   (coconet, music)
    coconet/      model, sampling, repair, Composer     (music)
    audio/        SoundFont, synth, render, playback    (music)
    music/        Score, MIDI, MusicXML, counterpoint   (nothing above; never torch)
    errors.py, fileio.py                                (shared by all)
"""

from engine.errors import (
    AudioUnavailable,
    CantorError,
    CheckpointError,
    MidiFileError,
    PitchRangeError,
    ScoreError,
)

__all__ = [
    "AudioUnavailable",
    "CantorError",
    "CheckpointError",
    "MidiFileError",
    "PitchRangeError",
    "Score",
    "ScoreError",
]


def __getattr__(name: str):
    # Score pulls in numpy; load it on first use so `import engine.errors` stays instant.
    if name == "Score":
        from engine.music.score import Score

        return Score
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
