"""Cost against piece length, whole piece vs windowed: the README's scaling table (run by hand).

    .venv/bin/python -m engine.benchmarks._scaling [--lengths 32,128,512,1024] [--repeats 3]

For each length T (16th-note steps): infill of one bar of the alto in the middle of a four-part
score, and harmonization of the whole piece under its melody; 1 variant, 96 Gibbs steps, no repair
(to time the sampler alone), with the shipped model, on the windowed path and on the whole piece.
"""

from __future__ import annotations

import argparse
import os

from engine.benchmarks import median_ms
from engine.benchmarks.fastpath import four_part
from engine.benchmarks.model import load_bench_model


def table(lengths: list[int], repeats: int) -> list[dict]:
    from engine.coconet.composer import Composer

    model, _ = load_bench_model()
    windowed = Composer(model=model)
    whole = Composer(model=model, threads=windowed.threads, window=False)
    windowed.harmonize(four_part(windowed, 2), variants=1, steps=2)  # warm-up
    longest = four_part(windowed, max(lengths) // 16 + 1)
    rows = []
    for steps in lengths:
        score = longest.slice(0, steps)
        middle = (steps // 2 // 16) * 16
        bar = score.region_mask(middle, min(steps, middle + 16), (1,))
        row = {"T": steps}
        for name, composer in (("windowed", windowed), ("whole", whole)):
            row[f"infill_{name}_ms"] = median_ms(
                lambda c=composer, s=score, m=bar: c.infill(s, m, variants=1, steps=96), repeats)
            row[f"harmonize_{name}_ms"] = median_ms(
                lambda c=composer, s=score: c.harmonize(s, keep=(0,), variants=1, steps=96),
                repeats)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="32,128,512,1024")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = table([int(x) for x in args.lengths.split(",")], args.repeats)
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| T | infill 1 bar: whole | windowed | harmonize: whole | windowed |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['T']} | {r['infill_whole_ms']:.0f} | {r['infill_windowed_ms']:.0f}"
              f" | {r['harmonize_whole_ms']:.0f} | {r['harmonize_windowed_ms']:.0f} |")


if __name__ == "__main__":
    main()
