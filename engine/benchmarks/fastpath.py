"""The composer's everyday actions and the command line's start, for `cantor bench`.

- composer_default_8bar_ms / composer_first_variant_8bar_ms: the editor's `r` on an 8-bar melody
  (its defaults: 4 variants, 96 steps, voice-leading repair), whole and until the first variant;
- infill_1bar_in_8bar_ms / infill_1bar_in_64bar_ms: one bar of the alto rewritten (1 variant,
  default path) in an 8-bar and a 64-bar four-part score: windowing makes them cost the same;
- cli_harmonize_8bar_wall_ms / cli_info_wall_ms: whole `cantor` processes, exec to exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.benchmarks import median_ms
from engine.benchmarks.model import load_bench_model, melody_score

ROOT = Path(__file__).resolve().parents[2]
EDITOR_DEFAULTS = {"variants": 4, "steps": 96}  # the settings form's defaults (tui/settings)


def four_part(composer, bars: int):
    """A four-part score of `bars` bars: the bench melody harmonized once, repeated."""
    eight = composer.harmonize(melody_score(8), variants=1, steps=24, seed=1).variants[0].score
    if bars == 8:
        return eight
    from engine.music.score import Score

    reps = -(-bars // 8)
    pitches = np.tile(eight.pitches, reps)[:, : bars * 16]
    onsets = np.tile(eight.onsets, reps)[:, : bars * 16]
    return Score(pitches, onsets=onsets)


def first_variant_ms(composer, score, repair: int) -> tuple[float, float]:
    """(ms until the first variant is handed over, ms for all) of the editor's harmonize."""
    began = time.perf_counter()
    first: list[float] = []
    composer.harmonize(score, keep=(0,), repair=repair, **EDITOR_DEFAULTS,
                       on_variant=lambda v: first or first.append(time.perf_counter()))
    done = time.perf_counter()
    return (first[0] - began) * 1000, (done - began) * 1000


def infill_bar_ms(composer, score, repeats: int, repair: int) -> float:
    start, end = score.bar_range(4, 4)
    mask = score.region_mask(start, end, (1,))
    return median_ms(lambda: composer.infill(score, mask, variants=1, repair=repair), repeats)


def wall_ms(args: list[str], repeats: int) -> float:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, str(ROOT / "cli.py"), *args]

    def run() -> None:
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)

    run()  # warm the file cache (and the thread-choice cache), as a user's second command does
    return median_ms(run, repeats)


def measure(repeats: int) -> dict:
    from engine.coconet.composer import DEFAULT_REPAIR, Composer
    from engine.coconet.loading import DEFAULT_COCONET
    from engine.music.midi import save_midi

    chosen = os.environ.get("CANTOR_BENCH_CHECKPOINT")
    if chosen or DEFAULT_COCONET.is_file():  # built as the editor and the command line build it
        composer = Composer(chosen).load()
    else:
        composer = Composer(model=load_bench_model()[0])
    eight = melody_score(8)
    composer.harmonize(eight, variants=1, steps=2)  # warm-up
    runs = [first_variant_ms(composer, eight, DEFAULT_REPAIR) for _ in range(max(1, repeats))]
    results = {
        "composer_first_variant_8bar_ms": float(np.median([r[0] for r in runs])),
        "composer_default_8bar_ms": float(np.median([r[1] for r in runs])),
        "composer_lanes": composer.last_lanes,  # variants side by side (engine/coconet/lanes.py)
    }
    short, long = four_part(composer, 8), four_part(composer, 64)
    results["infill_1bar_in_8bar_ms"] = infill_bar_ms(composer, short, repeats, DEFAULT_REPAIR)
    results["infill_1bar_in_64bar_ms"] = infill_bar_ms(composer, long, repeats, DEFAULT_REPAIR)
    results["infill_64_vs_8_ratio"] = (results["infill_1bar_in_64bar_ms"]
                                       / results["infill_1bar_in_8bar_ms"])
    with tempfile.TemporaryDirectory() as folder:
        melody = Path(folder) / "melody.mid"
        save_midi(eight, melody)
        cli_repeats = max(1, min(repeats, 3))  # whole processes: a few runs are enough
        chosen = os.environ.get("CANTOR_BENCH_CHECKPOINT")  # the model the other keys used
        results["cli_harmonize_8bar_wall_ms"] = wall_ms(
            ["harmonize", str(melody), "-o", str(Path(folder) / "out.mid")]
            + (["--checkpoint", chosen] if chosen else []), cli_repeats)
        results["cli_info_wall_ms"] = wall_ms(["info", str(melody)], cli_repeats)
    return results
