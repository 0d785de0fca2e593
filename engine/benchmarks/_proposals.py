"""Repair proposals by one net or by the fast net: the README's A/B (run by hand, quiet machine).

    .venv/bin/python -m engine.benchmarks._proposals [--repeats 4]

The composer's default action on the 8-bar bench melody (4 variants, 96 Gibbs steps, the default
repair rounds, the first variant handed over first), with the standard shipped model, on
`Composer(repair_model="same")` and on `Composer(repair_model="fast")`, runs interleaved; medians
of ms until the first variant and until all four, and each round's ratio of the two.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from engine.benchmarks.fastpath import first_variant_ms
from engine.benchmarks.model import melody_score

MODES = ("same", "fast")


def table(repeats: int) -> dict[str, list[tuple[float, float]]]:
    from engine.coconet.composer import DEFAULT_REPAIR, Composer

    melody = melody_score(8)
    composers = {mode: Composer(repair_model=mode).load() for mode in MODES}
    for composer in composers.values():
        composer.harmonize(melody, variants=1, steps=4)  # warm-up
    runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    for _ in range(repeats):
        for mode, composer in composers.items():
            runs[mode].append(first_variant_ms(composer, melody, DEFAULT_REPAIR))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    print(f"load average before {os.getloadavg()[0]:.2f}")
    runs = table(args.repeats)
    print(f"load average after {os.getloadavg()[0]:.2f}")
    print("| proposals by | first variant ms (median) | all four ms (median) |")
    print("|---|---|---|")
    for mode in MODES:
        first, whole = (float(np.median([r[i] for r in runs[mode]])) for i in (0, 1))
        print(f"| {mode} | {first:.0f} | {whole:.0f} |")
    ratios = [fast[1] / same[1] for same, fast in zip(runs["same"], runs["fast"], strict=True)]
    print("all four, fast / same, each round: " + ", ".join(f"{r:.2f}" for r in ratios))


if __name__ == "__main__":
    main()
