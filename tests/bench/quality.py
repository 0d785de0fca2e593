"""Quality benchmark, run by hand (not part of the test suite): harmonize the JSB-16th test split.

Every one of the 77 test-split soprano lines is harmonized (1 variant, fixed seed) with each
sampler; the share of alto/tenor/bass cells equal to Bach's, the part-writing violation rates (engine/music/counterpoint.py, per 100 quarter notes, pooled
over all pieces) are printed beside Bach's own rates on the same pieces, with the model's NLL of
the generated alto/tenor/bass (nats per cell, the Composer's ranking measure) beside the NLL of
Bach's own alto/tenor/bass. Then the quality-vs-steps curve of the Gibbs sampler.

    .venv/bin/python tests/bench/quality.py [--checkpoint CKPT] [--steps 96]
        [--samplers gibbs,ancestral] [--curve 24,48,96,192] [--repair 4,8] [--repair-passes 8,24]
        [--repair-misses none,2]
        [--temperatures 0.7,0.9] [--limit N] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.coconet.composer import Composer
from engine.music.counterpoint import KINDS, check_score, pooled_rates
from engine.music.score import Score

DATA = ROOT / ".." / "shared" / "data" / "Jsb16thSeparated.json"
HEADERS = {
    "parallel_fifths": "par. 5ths",
    "parallel_octaves": "par. 8ves",
    "voice_crossing": "crossing",
    "out_of_range": "range",
    "spacing": "spacing",
}


def load_pieces(path: Path, split: str = "test") -> list[Score]:
    with open(path) as handle:
        pieces = json.load(handle)[split]
    return [Score(np.asarray(piece, dtype=np.int16).T, title=f"{split} {i}") for i, piece in enumerate(pieces)]


def lower_voices(score: Score) -> np.ndarray:
    mask = np.zeros(score.pitches.shape, dtype=bool)
    mask[1:] = True
    return mask


def accuracy(scores: list[Score], pieces: list[Score]) -> float:
    """Share of alto/tenor/bass cells equal to Bach's (pitch or rest): a measure the sampler never sees."""
    same = sum(int((s.pitches[1:] == p.pitches[1:]).sum()) for s, p in zip(scores, pieces))
    return same / sum(3 * p.num_steps for p in pieces)


def summarize(label: str, scores: list[Score], nlls: list[float], seconds: float,
              pieces: list[Score] | None = None) -> dict:
    cells = [3 * s.num_steps for s in scores]
    rates = pooled_rates([check_score(s) for s in scores])
    return {
        "label": label,
        "pieces": len(scores),
        "accuracy": accuracy(scores, pieces if pieces is not None else scores),
        "rates": rates,
        "all": sum(rates.values()),
        "nll": float(np.average(nlls, weights=cells)),
        "seconds_per_piece": seconds / max(1, len(scores)),
    }


def bach(composer: Composer, pieces: list[Score]) -> dict:
    began = time.perf_counter()
    nlls = [composer.nll(p, lower_voices(p)) for p in pieces]
    row = summarize("Bach (the test chorales)", pieces, nlls, 0.0)
    row["seconds_per_piece"] = None
    print(f"  Bach scored in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return row


def harmonize_all(composer, pieces, sampler: str, steps: int, seed: int, **options) -> dict:
    label = f"{sampler}, {steps} steps" + "".join(f", {k} {v}" for k, v in options.items())
    began = time.perf_counter()
    outputs, nlls = [], []
    for i, piece in enumerate(pieces):
        variant = composer.harmonize(piece, keep=(0,), variants=1, steps=steps, seed=seed,
                                     sampler=sampler, **options).variants[0]
        outputs.append(variant.score)
        nlls.append(variant.nll)
        print(f"\r  {label}: {i + 1}/{len(pieces)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return summarize(label, outputs, nlls, time.perf_counter() - began, pieces)


def table(rows: list[dict], reference: dict) -> str:
    head = ["", *HEADERS.values(), "all", "x Bach", "NLL", "A/T/B = Bach", "s/piece"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        ratio = row["all"] / reference["all"] if reference["all"] else float("nan")
        secs = "" if row["seconds_per_piece"] is None else f"{row['seconds_per_piece']:.1f}"
        cells = [row["label"], *(f"{row['rates'][k]:.2f}" for k in KINDS), f"{row['all']:.2f}",
                 f"{ratio:.2f}", f"{row['nll']:.3f}", f"{row['accuracy']:.3f}", secs]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="Coconet checkpoint (default: the shipped one)")
    parser.add_argument("--data", default=str(DATA), help="Jsb16thSeparated.json")
    parser.add_argument("--samplers", default="gibbs,ancestral")
    parser.add_argument("--steps", type=int, default=96)
    parser.add_argument("--curve", default="24,48,96,192", help="Gibbs steps for the curve ('' = none)")
    parser.add_argument("--repair", default="", help="repair rounds after Gibbs, e.g. 4,8,16")
    parser.add_argument("--repair-passes", default="",
                        help="Gibbs passes per repair proposal, e.g. 8,12 (with each --repair)")
    parser.add_argument("--repair-misses", default="",
                        help="comma-separated: a variant leaves the repair after M rejected "
                             "proposals in a row ('none': never); each with every --repair")
    parser.add_argument("--patience", default="",
                        help="Gibbs early stops to try with each repair setting, e.g. 8,4 ('none': never)")
    parser.add_argument("--cool", default="",
                        help="cooling temperatures to try with each repair setting, e.g. 0.5,0.7")
    parser.add_argument("--repair-context", default="",
                        help="repair contexts (steps each side) to try with each repair setting, e.g. 16,24")
    parser.add_argument("--temperatures", default="", help="Gibbs temperatures, e.g. 0.5,0.7,0.9")
    parser.add_argument("--limit", type=int, help="only the first N pieces (for a quick look)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--out", help="write all rows as JSON here too")
    args = parser.parse_args()

    pieces = load_pieces(Path(args.data))[: args.limit]
    composer = Composer(args.checkpoint, threads=args.threads, precision=args.precision).load()
    print(f"{len(pieces)} pieces, {sum(p.num_steps for p in pieces) / 4:g} quarter notes,"
          f" {composer!r}", file=sys.stderr)
    composer.harmonize(pieces[0], variants=1, steps=1)  # warm-up, so the first timing is fair
    results = {"settings": vars(args), "bach": bach(composer, pieces), "samplers": [], "curve": []}

    def save() -> None:
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=2))

    done: dict[tuple[str, int], dict] = {}
    for sampler in [s for s in args.samplers.split(",") if s]:
        done[sampler, args.steps] = harmonize_all(composer, pieces, sampler, args.steps, args.seed)
        results["samplers"].append(done[sampler, args.steps])
        save()
    print("\n" + table([results["bach"], *results["samplers"]], results["bach"]))
    for steps in [int(s) for s in args.curve.split(",") if s]:
        row = done.get(("gibbs", steps)) or harmonize_all(composer, pieces, "gibbs", steps, args.seed)
        results["curve"].append(row)
        save()
    if results["curve"]:
        print("\n" + table(results["curve"], results["bach"]))
    def number(text: str):
        return None if text == "none" else float(text) if "." in text else int(text)

    passes = [{}]  # every combination of the listed values of these options
    for key, text in (("repair_passes", args.repair_passes), ("repair_misses", args.repair_misses),
                      ("patience", args.patience), ("cool", args.cool),
                      ("repair_context", args.repair_context)):
        values = [number(v) for v in text.split(",") if v]
        passes = [{**p, key: v} for p in passes for v in values] or passes
    extra = [{"repair": int(r), **p} for r in args.repair.split(",") if r for p in passes]
    extra += [{"temperature": float(t)} for t in args.temperatures.split(",") if t]
    if extra:
        results["options"] = []
        for options in extra:
            results["options"].append(
                harmonize_all(composer, pieces, "gibbs", args.steps, args.seed, **options))
            save()
        print("\n" + table(results["options"], results["bach"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
