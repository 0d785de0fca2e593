"""Accompaniment quality, run by hand (not part of the test suite), on the JSB-16th test split.

Every one of the 77 test soprano lines is accompanied (1 variant, fixed seed): the draft alone,
the draft + a short Gibbs polish, and, for comparison, a full Coconet Gibbs harmonization. For each:
per-cell accuracy of alto/tenor/bass against Bach's, part-writing violation rates per 100 quarter
notes (engine/music/counterpoint.py) beside Bach's own, the Coconet NLL of the written voices (nats per
cell, the Composer's measure), and seconds per piece. Then the VAE's own reconstruction accuracy
and KL and the surrogate's MSE against a predict-the-mean baseline, on test-split segments.

    .venv/bin/python tests/bench/accompany_quality.py [--checkpoint ACC] [--coconet CKPT]
        [--refine 10] [--polish 32] [--gibbs-steps 96] [--limit N] [--rows bach,draft,refine,polish,repair,gibbs] [--repair 8]
        [--skip-latent] [--threads 1] [--out FILE]
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

from engine.accompany.predict import accompany, load_accompany
from engine.music.counterpoint import KINDS, check_score, pooled_rates
from engine.music.score import Score

DATA = ROOT / ".." / "shared" / "data" / "Jsb16thSeparated.json"


def load_pieces(path: Path, split: str) -> list[Score]:
    with open(path) as handle:
        pieces = json.load(handle)[split]
    return [Score(np.asarray(p, dtype=np.int16).T, title=f"{split} {i}") for i, p in enumerate(pieces)]


def lower_voices(score: Score) -> np.ndarray:
    mask = np.zeros(score.pitches.shape, dtype=bool)
    mask[1:] = True
    return mask


def row(label, outputs, pieces, composer, seconds) -> dict:
    cells = np.array([3 * p.num_steps for p in pieces], dtype=np.float64)
    correct = [float((o.pitches[1:] == p.pitches[1:]).sum()) for o, p in zip(outputs, pieces)]
    nlls = [composer.nll(o, lower_voices(o)) for o in outputs] if composer else [float("nan")]
    rates = pooled_rates([check_score(o) for o in outputs])
    return {
        "label": label,
        "accuracy": sum(correct) / cells.sum(),
        "rates": rates,
        "all": sum(rates.values()),
        "coconet_nll": float(np.average(nlls, weights=cells)) if composer else None,
        "seconds_per_piece": seconds / len(pieces) if seconds is not None else None,
    }


def run_rows(args, pieces, model, composer) -> list[dict]:
    wanted = set(args.rows.split(","))
    rows = []
    if "bach" in wanted:
        rows.append(row("Bach (the test chorales)", pieces, pieces, composer, None))
        rows[0]["accuracy"] = 1.0
    plans = [("draft", 0, 0)] if "draft" in wanted else []
    if args.refine and "refine" in wanted:
        plans.append((f"draft, refine {args.refine}", 0, args.refine))
    if composer and "polish" in wanted:
        plans.append((f"draft, refine {args.refine} + polish {args.polish}", args.polish, args.refine))
    if composer and args.repair and "repair" in wanted:
        plans.append((f"draft, refine {args.refine} + polish {args.polish} + repair {args.repair}",
                      args.polish, args.refine, args.repair))
    for label, polish, refine, *repair in plans:
        began, outputs = time.perf_counter(), []
        for i, piece in enumerate(pieces):
            result = accompany(piece.erase(lower_voices(piece)), 0, polish=polish, seed=args.seed,
                               checkpoint=model, composer=composer, refine=refine,
                               repair=repair[0] if repair else 0)
            outputs.append(result.variants[0].score)
            print(f"\r  {label}: {i + 1}/{len(pieces)}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        rows.append(row(label, outputs, pieces, composer, time.perf_counter() - began))
    if composer and "gibbs" in wanted:
        began, outputs = time.perf_counter(), []
        for i, piece in enumerate(pieces):
            blank = piece.erase(lower_voices(piece))
            found = composer.harmonize(blank, keep=(0,), variants=1, steps=args.gibbs_steps, seed=args.seed)
            outputs.append(found.variants[0].score)
            print(f"\r  gibbs: {i + 1}/{len(pieces)}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        rows.append(row(f"Coconet Gibbs, {args.gibbs_steps} steps", outputs, pieces, composer,
                        time.perf_counter() - began))
    return rows


def latent_figures(model, data_path: Path) -> dict:
    """VAE reconstruction and KL, surrogate MSE vs predict-the-mean, on test-split segments."""
    import torch

    from engine.training.accompany_data import SegmentSampler, chorale_pieces, fixed_segments
    from engine.training.accompany_eval import surrogate_metrics, vae_metrics
    from engine.training.datasets import load_jsb16

    found = load_jsb16(data_path)
    test = torch.from_numpy(fixed_segments(chorale_pieces(found.split("test")), model.config))
    sampler = SegmentSampler(chorale_pieces(found.split("train")), model.config)
    with torch.no_grad():
        probe = torch.from_numpy(sampler.batch(np.random.default_rng(12345), 4096))
        mean_mu = model.vae.encode(probe)[0].mean(0)
    figures = vae_metrics(model.vae, test)
    figures.update(surrogate_metrics(model.vae, model.surrogate, test, mean_mu)[0])
    figures["segments"] = len(test)
    return figures


def table(rows) -> str:
    heads = ["", "A/T/B acc.", *KINDS, "all", "x Bach", "Coconet NLL", "s/piece"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    bach = rows[0]["all"] if rows and rows[0]["label"].startswith("Bach") else 0
    for r in rows:
        nll = "" if r["coconet_nll"] is None else f"{r['coconet_nll']:.3f}"
        secs = "" if r["seconds_per_piece"] is None else f"{r['seconds_per_piece']:.3f}"
        cells = [r["label"], f"{r['accuracy']:.3f}", *(f"{r['rates'][k]:.2f}" for k in KINDS),
                 f"{r['all']:.2f}", f"{r['all'] / bach:.2f}" if bach else "", nll, secs]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="accompaniment checkpoint (default: the shipped one)")
    parser.add_argument("--coconet", help="Coconet checkpoint for NLL, polish and Gibbs (default: shipped)")
    parser.add_argument("--no-coconet", action="store_true", help="skip everything that needs Coconet")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--polish", type=int, default=32)
    parser.add_argument("--refine", type=int, default=10)
    parser.add_argument("--repair", type=int, default=8, help="voice-leading repair rounds (row 'repair')")
    parser.add_argument("--gibbs-steps", type=int, default=96)
    parser.add_argument("--rows", default="bach,draft,refine,polish,repair,gibbs",
                        help="rows to compute (comma-separated subset of the default)")
    parser.add_argument("--skip-latent", action="store_true", help="skip the VAE/surrogate figures")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    model = load_accompany(args.checkpoint)
    composer = None
    if not args.no_coconet:
        from engine.coconet.composer import Composer

        composer = Composer(args.coconet, threads=args.threads).load()
    pieces = load_pieces(Path(args.data), "test")[: args.limit]
    print(f"{len(pieces)} pieces, {sum(p.num_steps for p in pieces) / 4:g} quarter notes",
          file=sys.stderr)
    results = {"settings": vars(args)}
    if not args.skip_latent:
        results["latent"] = latent_figures(model, Path(args.data))
        print(json.dumps(results["latent"], indent=2))
    results["rows"] = run_rows(args, pieces, model, composer)
    print(table(results["rows"]))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
