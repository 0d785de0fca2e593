"""Variants side by side vs one batch: the README's A/B table (run by hand, on a quiet machine).

    .venv/bin/python -m engine.benchmarks._lanes [--repeats 3]

The composer's default action on the 8-bar bench melody (4 variants, 96 Gibbs steps, 8 repair
rounds), with the shipped model, as the editor asks for it (the first variant handed over first)
and as the command line does, on one lane (one batch on torch's threads) and on two (one variant
per thread); runs interleaved; medians of ms until the first variant and until all.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from engine.benchmarks.model import load_bench_model, melody_score


def table(repeats: int) -> dict:
    from engine.coconet.composer import DEFAULT_REPAIR, Composer

    model, _ = load_bench_model()
    melody = melody_score(8)
    composers = {lanes: Composer(model=model, lanes=lanes) for lanes in (1, 2)}
    for composer in composers.values():
        composer.harmonize(melody, variants=2, steps=2)  # warm-up
    runs: dict = {}
    for _ in range(repeats):
        for mode in ("editor", "cli"):
            for lanes, composer in composers.items():
                first: list[float] = []
                began = time.perf_counter()
                hand = {"on_variant": lambda v, f=first: f or f.append(time.perf_counter())}
                composer.harmonize(melody, keep=(0,), variants=4, steps=96, repair=DEFAULT_REPAIR,
                                   **(hand if mode == "editor" else {}))
                done = time.perf_counter()
                runs.setdefault((mode, lanes), []).append(
                    ((first[0] - began) * 1000 if first else float("nan"), (done - began) * 1000))
    return {key: (float(np.median([r[0] for r in v])), float(np.median([r[1] for r in v])))
            for key, v in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before {os.getloadavg()[0]:.2f}")
    rows = table(args.repeats)
    print(f"load average after {os.getloadavg()[0]:.2f}")
    print("| 4 variants, 8 bars | one batch: first / all ms | side by side: first / all ms |")
    print("|---|---|---|")
    for mode in ("editor", "cli"):
        cells = [f"{rows[(mode, n)][0]:.0f} / {rows[(mode, n)][1]:.0f}" for n in (1, 2)]
        print(f"| {mode} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
