"""Structure of pieces composed from nothing, run by hand (not part of the test suite).

`Composer.compose` writes all four voices. This measures what a listener hears as form, none of
which a sampler or repair step counts: does the piece stay in a key, open and close on its tonic,
cadence where its phrases end, and are its strong-beat chords complete? Pieces are composed in
groups (seed = 1000 * group + i), figures are pooled within a group and given as mean ± standard
deviation over the groups.

    .venv/bin/python tests/bench/compose_structure.py --groups 0,1,2 --pieces 10 --threads 1

Rows:
- key_named: the key of the whole (music21's profiles, engine/music/harmony.py) is the key the
  piece was composed in (only when one was asked for or drawn);
- final_tonic, final_cadence, strong_complete, strong_six_four, unresolved_sevenths,
  staggered_parallels: as in engine/music/musicality.py, with the key asked for, else the key
  estimated from the piece's own four voices;
- first_tonic: the first sonority is the tonic triad over the tonic (every piece, whatever its
  melody starts on);
- phrase_end_complete: the sonority struck at the start of each phrase-end note (fermata) is a
  complete major or minor triad;
- findings: `cantor check` findings per 100 quarter notes.
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

from engine.coconet.defaults import DEFAULT_REPAIR
from engine.music.counterpoint import check_score
from engine.music.harmony import (
    estimate_key,
    key_text,
)
from engine.music.keys import parse_key
from engine.music.musicality import is_final_tonic, measure
from engine.music.score import STEPS_PER_QUARTER, Score

ROWS = ("key_named", "final_tonic", "final_cadence", "first_tonic", "phrase_end_complete",
        "strong_complete", "strong_six_four", "unresolved_sevenths", "staggered_parallels",
        "findings")


def piece_figures(score, asked) -> dict[str, list[float]]:
    """Numerators and denominators of one piece's rows."""
    p = score.pitches.astype(np.int32)
    found = estimate_key(p)
    key = asked if asked is not None else found
    counts = measure(score, key)
    rows = {name: list(value) for name, value in counts.tallies.items()}
    rows["key_named"] = [int(found == asked), 1] if asked is not None else [0, 0]
    sounding = np.flatnonzero((p >= 0).any(axis=0))
    rows["first_tonic"] = [int(key is not None and sounding.size > 0
                               and is_final_tonic(p, int(sounding[0]), key)), 1]
    quarters = score.num_steps / STEPS_PER_QUARTER
    for name, events in counts.events.items():
        rows[name] = [events, quarters]
    rows["findings"] = [len(check_score(score).findings), quarters]
    return rows


def group_figures(composer, group: int, args) -> dict[str, float | None]:
    totals: dict[str, list[float]] = {}
    for i in range(args.pieces):
        seed = 1000 * group + i
        options = {"variants": 1, "steps": args.steps, "repair": args.repair, "seed": seed}
        options.update(_structure_options(args))
        result = composer.compose(args.bars, args.meter, args.pickup, **options)
        score = result.variants[0].score
        asked = parse_key(score.key) if score.key else None
        for name, (hit, total) in piece_figures(score, asked).items():
            got = totals.setdefault(name, [0.0, 0.0])
            got[0] += hit
            got[1] += total
        if args.verbose:
            print(f"  seed {seed}: key {score.key or '?'} -> {key_text(estimate_key(score.pitches))}",
                  file=sys.stderr)
    return _rates(totals)


def bach_figures(path: Path) -> dict[str, float | None]:
    """The same rows for Bach's own chorales of the JSB test split that have their key and
    fermatas (recovered from music21), each in its stated key."""
    from engine.training.chorale_meta import load_jsb_metadata

    with open(path) as handle:
        pieces = json.load(handle)["test"]
    totals: dict[str, list[float]] = {}
    for piece, info in zip(pieces, load_jsb_metadata(path)["test"]):
        if not info or info.get("fermatas") is None or not info.get("key"):
            continue
        fields = {k: info[k] for k in ("time_signature", "pickup", "key", "fermatas")}
        score = Score(np.asarray(piece, dtype=np.int16).T, **fields)
        for name, (hit, total) in piece_figures(score, parse_key(score.key)).items():
            got = totals.setdefault(name, [0.0, 0.0])
            got[0] += hit
            got[1] += total
    return _rates(totals)


def _rates(totals: dict[str, list[float]]) -> dict[str, float | None]:
    figures = {}
    for name in ROWS:
        hit, total = totals.get(name, (0, 0))
        scale = 100.0 if name in ("unresolved_sevenths", "staggered_parallels", "findings") else 1.0
        figures[name] = scale * hit / total if total else None
    return figures


def _structure_options(args) -> dict:
    """Options of the structured compose, passed only when asked for (the code before had none)."""
    options = {}
    for name in ("key", "phrase", "opening", "ending"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    return options


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", help="Coconet checkpoint (default: the shipped one)")
    parser.add_argument("--groups", default="0,1,2")
    parser.add_argument("--pieces", type=int, default=10, help="pieces per group")
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--meter", default="4/4")
    parser.add_argument("--pickup", type=int, default=0, help="pickup in 16th steps")
    parser.add_argument("--steps", type=int, default=96)
    parser.add_argument("--repair", type=int, default=DEFAULT_REPAIR,
                        help=f"repair rounds (default {DEFAULT_REPAIR}, as the command line)")
    parser.add_argument("--key", help="compose in this key (default: the composer's own choice)")
    parser.add_argument("--phrase", type=int, help="bars a phrase (0: no phrase ends)")
    parser.add_argument("--opening", choices=("tonic", "free"))
    parser.add_argument("--ending", choices=("tonic", "free"))
    parser.add_argument("--threads", type=int)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--out", help="write the figures as JSON here too")
    parser.add_argument("--bach", metavar="JSON",
                        help="instead: the rows for Bach's JSB test chorales (Jsb16thSeparated.json)")
    args = parser.parse_args()
    if args.bach:
        for name, value in bach_figures(Path(args.bach)).items():
            print(f"{name:<22} {'-' if value is None else f'{value:7.3f}'}")
        return 0
    num, den = (int(x) for x in args.meter.split("/"))
    args.meter = (num, den)

    from engine.coconet.composer import Composer

    composer = Composer(args.checkpoint, threads=args.threads)
    per_group = []
    started = time.monotonic()
    for group in (int(g) for g in args.groups.split(",")):
        per_group.append(group_figures(composer, group, args))
        print(f"group {group}: {json.dumps(per_group[-1])}", file=sys.stderr)
    summary = {}
    print(f"{'row':<22} {'mean':>7} {'sd':>6}   per group")
    for name in ROWS:
        values = [g[name] for g in per_group if g[name] is not None]
        if not values:
            continue
        mean, sd = float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        summary[name] = {"mean": mean, "sd": sd, "per_group": values}
        print(f"{name:<22} {mean:7.3f} {sd:6.3f}   " + ", ".join(f"{v:.3f}" for v in values))
    print(f"({len(per_group)} groups x {args.pieces} pieces, {time.monotonic() - started:.0f} s)")
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
