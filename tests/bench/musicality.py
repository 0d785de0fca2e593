"""Musicality benchmark, run by hand: measures no sampler or repair step optimizes, beside Bach's.

Harmonizes (a) the 77 JSB-16th test-split sopranos and (b) the folk tunes of folk_tunes.txt
(melodies Bach never set, from music21's corpus) with the Composer at the command line's
defaults (1 variant, 96 Gibbs steps, DEFAULT_REPAIR repair rounds), once per seed, and prints the
measures of engine/music/musicality.py as a markdown table: Bach's own figure on the JSB test
set, then each set's mean ± std over the seeds and its ratio to Bach's figure.

Meter, pickup, key and fermatas of the JSB pieces come from engine/training/chorale_meta.py
when it is there (else 4/4 without pickup, and the output says so); the key the cadence
measures use is music21's analysis of Bach's harmonization (JSB) or the tune's key (folk).
Histogram rows are total variation distances to Bach's pooled histograms; Bach's column there is
the distance between his even- and odd-numbered pieces (the sampling noise floor). With two or
more seeds it also prints how much the seeds' harmonizations of a melody differ (what a lower
temperature trades for the other figures).

    .venv/bin/python tests/bench/musicality.py [--checkpoint CKPT] [--set jsb|folk|both]
        [--limit N] [--seeds 0,1,2] [--repair R] [--repair-misses M|none] [--steps 96]
        [--temperature 0.99]
        [--meta given|guess] [--opening tonic|free] [--ending tonic|free] [--out results.json]
    .venv/bin/python tests/bench/musicality.py --choose-folk   # remake folk_tunes.txt (minutes)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import folk_tunes

from engine.coconet.defaults import DEFAULT_REPAIR, PATIENCE, REPAIR_MISSES, REPAIR_PASSES
from engine.errors import CantorError
from engine.music.harmony import estimate_key, key_text
from engine.music.musicality import Counts, histogram_distances, measure, pooled
from engine.music.score import Score

DATA = ROOT / ".." / "shared" / "data" / "Jsb16thSeparated.json"
ROWS = {
    "final_tonic": "last chord = tonic triad, tonic in the bass",
    "final_cadence": "final cadence V–I (bass 5→1, leading tone resolves)",
    "final_cadence_open": "final cadence V–I, of the melodies that allow one",
    "opening_tonic": "first chord = tonic triad over the tonic (melody starts on the tonic)",
    "opening_tonic_triad": "first chord = tonic triad over the tonic (melody starts on 1, 3 or 5)",
    "rests_under_melody": "melody steps with a lower voice silent",
    "key_global": "key of the whole = key of Bach's harmonization",
    "key_global_melody": "key of the whole = the melody's key",
    "key_local": "2-bar window key = Bach's window key",
    "key_local_melody": "2-bar window key = key of the melody in the window",
    "strong_complete": "strong-beat chords: complete triads or V7",
    "strong_six_four": "strong-beat chords: 6/4",
    "phrase_end_complete": "phrase-end (fermata) chords: complete triads",
    "unresolved_sevenths": "unresolved A/T sevenths /100 quarters",
    "staggered_parallels": "beat-to-beat (staggered) parallels /100 quarters",
    **{f"leaps_{v}": f"leap histogram {v}, TVD to Bach" for v in "ATB"},
    **{f"lengths_{v}": f"note-length histogram {v}, TVD to Bach" for v in "ATB"},
}


@dataclass
class Melody:
    name: str
    score: Score  # the soprano alone, with the piece's meta data
    key: tuple[int, bool] | None  # for the cadence measures
    melody_key: tuple[int, bool] | None  # the key stated for the melody (None: unknown)
    bach: Score | None = None  # Bach's harmonization (JSB only)


def jsb_melodies(path: Path, limit: int | None) -> tuple[list[Melody], str]:
    with open(path) as handle:
        pieces = json.load(handle)["test"]
    try:
        from engine.music.keys import parse_key
        from engine.training.chorale_meta import load_jsb_metadata

        meta = load_jsb_metadata(path)["test"]
        known = sum(bool(m and m.get("time_signature")) for m in meta)
        note = f"meter/pickup/key/fermatas from music21 for {known}/{len(meta)} pieces"
    except (ImportError, CantorError) as exc:
        meta, parse_key = [None] * len(pieces), None
        note = f"no chorale metadata ({exc}): 4/4, no pickup"
    melodies = []
    for i, piece in enumerate(pieces[:limit]):
        info = meta[i] or {}
        fields = {k: info[k] for k in ("time_signature", "pickup", "key", "fermatas")
                  if info.get(k) is not None}
        bach = Score(np.asarray(piece, dtype=np.int16).T, title=f"test {i}", **fields)
        melody = bach.replace(pitches=np.where(np.arange(4)[:, None] == 0, bach.pitches, -1))
        stated = parse_key(info["key"]) if parse_key and info.get("key") else None
        melodies.append(Melody(f"test {i}", melody, estimate_key(bach.pitches), stated, bach))
    return melodies, note


def folk_melodies(limit: int | None) -> tuple[list[Melody], str]:
    entries = folk_tunes.read_list()[:limit]
    melodies, skipped = [], []
    for entry in entries:
        try:
            score, key = folk_tunes.load(entry)
        except folk_tunes.Unusable as exc:
            skipped.append(f"{entry[0]} {entry[1]}: {exc}")
            continue
        melodies.append(Melody(f"{entry[0]} {entry[1]}", score, key, key))
    note = f"{len(melodies)} of {len(entries)} listed folk tunes usable"
    return melodies, note + "".join(f"; skipped {s}" for s in skipped)


def figures(counts: list[Counts], bach: list[Counts]) -> dict[str, float | None]:
    return {**pooled(counts), **histogram_distances(counts, bach)}


def bach_figures(melodies: list[Melody]) -> tuple[dict, list[Counts]]:
    counts = [measure(m.bach, m.key, melody_key=m.melody_key, reference=m.bach) for m in melodies]
    noise = histogram_distances(counts[0::2], counts[1::2])  # even vs odd pieces
    return {**pooled(counts), **noise}, counts


def harmonize_set(composer, melodies: list[Melody], seed: int, args,
                  label: str) -> tuple[list[Counts], list[np.ndarray]]:
    """Counts and (4, T) pitches of each melody's harmonization (with `args.variants` N > 1, the
    one the model ranks first of N drawn with seeds seed*N .. seed*N + N - 1, so that the
    benchmark's seeds share no draws)."""
    began, counts, pitches = time.perf_counter(), [], []
    for i, m in enumerate(melodies):
        score = m.score if args.meta == "given" else m.score.replace(key=None, fermatas=None)
        result = composer.harmonize(score, keep=(0,), variants=args.variants,
                                    steps=args.steps, seed=seed * args.variants,
                                    repair=args.repair, opening=args.opening,
                                    ending=args.ending, temperature=args.temperature,
                                    repair_misses=args.repair_misses,
                                    repair_passes=args.repair_passes,
                                    patience=args.patience, cool=args.cool,
                                    repair_context=args.repair_context)
        counts.append(measure(result.variants[0].score, m.key, melody_key=m.melody_key,
                              reference=m.bach))
        pitches.append(result.variants[0].score.pitches)
        print(f"\r  {label} seed {seed}: {i + 1}/{len(melodies)}", end="", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - began
    print(f" ({seconds / max(1, len(melodies)):.1f} s/piece)", file=sys.stderr)
    return counts, pitches


def diversity(drafts: list[list[np.ndarray]]) -> tuple[float, float] | None:
    """How much the seeds' harmonizations of a melody differ: the share of alto/tenor/bass cells
    under the sounding melody in which two seeds differ, averaged over all pairs of seeds; mean
    and std over the melodies (None with fewer than two seeds)."""
    shares = []
    for pitches in drafts:
        sounding = pitches[0][0] >= 0
        pairs = [(a, b) for i, a in enumerate(pitches) for b in pitches[i + 1:]]
        if not pairs or not sounding.any():
            continue
        shares.append(np.mean([(a[1:, sounding] != b[1:, sounding]).mean() for a, b in pairs]))
    return None if not shares else (float(np.mean(shares)), float(np.std(shares)))


def spread(per_seed: list[dict]) -> dict[str, tuple[float, float] | None]:
    out = {}
    for name in ROWS:
        values = [f[name] for f in per_seed if f.get(name) is not None]
        out[name] = None if not values else (
            float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)
    return out


def cell(stat, reference) -> tuple[str, str]:
    if stat is None:
        return "—", "—"
    mean, std = stat
    ratio = f"{mean / reference:.2f}" if reference else "—"
    return f"{mean:.2f} ± {std:.2f}", ratio


def table(bach: dict, results: dict) -> str:
    head = ["measure", "Bach (JSB test)"]
    for name in results:
        head += [f"model, {name}", "× Bach"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, text in ROWS.items():
        ref = bach.get(key)
        row = [text, "—" if ref is None else f"{ref:.2f}"]
        for result in results.values():
            row += cell(result["spread"].get(key), ref)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _misses(text: str) -> int | None:
    return None if text == "none" else int(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="Coconet checkpoint (default: the shipped one)")
    parser.add_argument("--data", default=str(DATA), help="Jsb16thSeparated.json")
    parser.add_argument("--set", default="both", choices=("jsb", "folk", "both"))
    parser.add_argument("--limit", type=int, help="only the first N melodies of each set")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=96)
    parser.add_argument("--repair", type=int, default=DEFAULT_REPAIR)
    parser.add_argument("--repair-passes", type=int, default=REPAIR_PASSES,
                        help="Gibbs passes of one repair proposal (default: the command line's)")
    parser.add_argument("--variants", type=int, default=1,
                        help="draw N variants of each melody and measure the one the model ranks"
                             " first (its pseudo-NLL), as the composer shows it first")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--repair-misses", type=_misses, default=REPAIR_MISSES,
                        help="a variant leaves the repair after this many rejected proposals in"
                             " a row ('none': never; default: the command line's)")
    parser.add_argument("--patience", type=_misses, default=PATIENCE,
                        help="Gibbs stops after this many passes that change nothing ('none': never)")
    parser.add_argument("--repair-context", type=int,
                        help="steps of context a repair proposal sees each side (default: exact)")
    parser.add_argument("--cool", type=float,
                        help="Gibbs and repair cool from --temperature to this (default: no cooling)")
    parser.add_argument("--temperature", type=float, default=0.99,
                        help="Gibbs sampling temperature (the command line's default 0.99)")
    parser.add_argument("--opening", default="tonic", choices=("tonic", "free"),
                        help="free: the model alone chooses the first chord (opening_tonic then"
                        " measures the model; with tonic it is partly set by the rule)")
    parser.add_argument("--ending", default="tonic", choices=("tonic", "free"),
                        help="free: the model alone chooses the last chord (final_tonic then"
                        " measures the model; with tonic its bass is set by the rule when the"
                        " melody ends on the tonic triad, while V-I stays the model's)")
    parser.add_argument("--out", help="write every figure as JSON here too")
    parser.add_argument("--meta", default="given", choices=("given", "guess"),
                        help="given: the melodies carry their key and fermatas (JSB: music21's);"
                             " guess: they carry neither, as a bare MIDI melody (the composer"
                             " estimates the key and guesses phrase ends)")
    parser.add_argument("--choose-folk", action="store_true", help="remake folk_tunes.txt and stop")
    args = parser.parse_args()
    data = Path(args.data)
    if not data.is_file():
        print(f"musicality: error: no JSB-16th data at {data} (--data PATH)", file=sys.stderr)
        return 1
    if args.choose_folk:
        with open(data) as handle:
            sopranos = [np.asarray(p).T[0] for split in json.load(handle).values() for p in split]
        folk_tunes.write_list(folk_tunes.choose(sopranos))
        return 0

    from engine.coconet.composer import Composer

    seeds = [int(s) for s in args.seeds.split(",") if s]
    jsb, jsb_note = jsb_melodies(data, None)
    bach, bach_counts = bach_figures(jsb)
    sets = {}
    if args.set in ("jsb", "both"):
        sets["JSB"] = (jsb[: args.limit], jsb_note)
    if args.set in ("folk", "both"):
        sets["folk"] = folk_melodies(args.limit)
    composer = Composer(args.checkpoint, threads=args.threads).load()
    print(f"{composer!r}; seeds {seeds}, {args.variants} variant(s), {args.steps} steps,"
          f" repair {args.repair} x {args.repair_passes} passes"
          f" (misses {args.repair_misses}), temperature {args.temperature}", file=sys.stderr)
    results = {"settings": vars(args), "bach": bach, "sets": {}}
    for name, (melodies, note) in sets.items():
        print(f"{name}: {len(melodies)} melodies; {note}", file=sys.stderr)
        per_seed, drafts = [], [[] for _ in melodies]
        for seed in seeds:  # saved after every seed, so a long run that is stopped still tells
            counts, pitches = harmonize_set(composer, melodies, seed, args, name)
            per_seed.append(figures(counts, bach_counts))
            for draft, melody_pitches in zip(drafts, pitches):
                draft.append(melody_pitches)
            results["sets"][name] = {"melodies": len(melodies), "note": note,
                                     "keys": [key_text(m.key) for m in melodies],
                                     "per_seed": per_seed, "spread": spread(per_seed),
                                     "diversity": diversity(drafts)}
            if args.out:
                Path(args.out).write_text(json.dumps(results, indent=2))
    print(table(bach, results["sets"]))
    for name, result in results["sets"].items():
        print(f"\n{name}: {result['melodies']} melodies, seeds {args.seeds}; {result['note']}")
        if result["diversity"] is not None:
            mean, std = result["diversity"]
            print(f"{name}: seeds differ in {mean:.2f} ± {std:.2f} of the A/T/B cells under the"
                  " melody (mean ± std over melodies, all pairs of seeds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
