"""Audio latencies for `cantor bench`: 8 bars to WAV, and play() to the stream's first callback."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
NULL_DEVICE = "pcm.!default { type null }\n"


def eight_bars():
    """Eight 4/4 bars of quarter-note chords at the default tempo (a chorale-like load)."""
    from engine.music.score import Score

    chords = np.array([[72, 67, 64, 48], [74, 67, 59, 55], [76, 67, 60, 48], [74, 65, 59, 43]])
    pitches = np.repeat(np.tile(chords.T, (1, 8)), 4, axis=1)  # 32 quarters = 128 steps
    return Score(pitches.astype(np.int16))


def render_8bar_ms(repeats: int) -> float:
    """Median ms of render_wav for 8 bars with the SoundFont the user would get."""
    from engine.audio.playback import render_wav

    score, times = eight_bars(), []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(max(1, repeats)):
            began = time.perf_counter()
            render_wav(score, Path(folder) / "bench.wav")
            times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def first_callback_ms(repeats: int) -> float | None:
    """Median ms from Player.play() to the first audio callback on the default output device."""
    from engine.audio.playback import Player

    score, times = eight_bars(), []
    with Player() as player:
        for _ in range(max(1, repeats)):
            player.play(score)
            deadline = time.perf_counter() + 5
            while player.first_callback_seconds() is None and time.perf_counter() < deadline:
                time.sleep(0.0005)
            seconds = player.first_callback_seconds()
            player.stop()
            if seconds is not None:
                times.append(seconds * 1000)
    return statistics.median(times) if times else None


def _first_callback_on_null_device(repeats: int) -> float | None:
    """No sound card here: measure against ALSA's null device in a child process."""
    with tempfile.TemporaryDirectory() as home:
        Path(home, ".asoundrc").write_text(NULL_DEVICE)
        code = (
            "import json; from engine.benchmarks.audio import first_callback_ms;"
            f" print(json.dumps(first_callback_ms({int(repeats)})))"
        )
        result = subprocess.run(  # noqa: PLW1510 (the exit code is checked)
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**os.environ, "HOME": home, "XDG_CONFIG_HOME": str(Path(home, ".config"))},
        )
    if result.returncode != 0:
        return None
    return float(json.loads(result.stdout.strip().splitlines()[-1]))


def measure(repeats: int) -> dict:
    """{"render_8bar_ms", "play_first_callback_ms"} (medians; None where audio is impossible)."""
    from engine.errors import AudioUnavailable

    figures = {}
    try:
        figures["render_8bar_ms"] = render_8bar_ms(repeats)
    except AudioUnavailable:
        figures["render_8bar_ms"] = None
    try:
        figures["play_first_callback_ms"] = first_callback_ms(repeats)
    except AudioUnavailable:
        figures["play_first_callback_ms"] = _first_callback_on_null_device(repeats)
    return figures


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5)))
