"""Pickup accuracy benchmark, run by hand (not part of the test suite): music21's Bach chorales.

Every four-part chorale of music21's corpus (the ones `engine/training/datasets.py` trains on) is written to
MIDI by music21 itself, as any other program would, and loaded by cantor twice: with the guess
turned off (`infer_pickup=False`, the loader as it was: music21 marks no pickup in the file) and
with the rule of `engine/music/pickup.py`. The true pickup is the shortfall of the chorale's first
measure against its time signature. Counted: correct, wrong (another nonzero pickup), missed
(pickup 0 for a chorale that has one), and false (a pickup for a chorale that has none).

A second test of false pickups: each chorale that has a pickup, cut to start on its first bar line
and to end on its last whole bar, written by cantor with its mark taken out (so it reads as a plain
four-track file with one time signature); its true pickup is 0.

The rule's constants were chosen on the even-numbered chorales (in this script's order); the
odd-numbered ones are reported apart as held out.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python tests/bench/pickup_accuracy.py
        [--limit N] [--keep DIR] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import mido

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.music.midi import SIGNATURE, load_midi, midi_bytes

LOADERS = ("old", "new")


def true_pickup(chorale) -> int:
    """Steps before the first bar line: the first measure's length when it is short, else 0."""
    first = chorale.parts[0].getElementsByClass("Measure")[0]
    length = float(first.duration.quarterLength)
    return round(length * 4) if length < float(first.barDuration.quarterLength) else 0


def chorales(folder: Path, limit: int | None):
    """(index, name, MIDI path, true pickup) of each four-part chorale music21 can write."""
    from music21 import corpus

    count = 0
    for chorale in corpus.chorales.Iterator(returnType="stream"):
        if len(chorale.parts) != 4:
            continue
        path = folder / f"{count:03d}.mid"
        try:
            chorale.write("midi", fp=str(path))
        except Exception:  # noqa: BLE001 - music21 cannot expand some repeats; say how many
            yield None
            continue
        name = chorale.metadata.title if chorale.metadata else path.stem
        yield count, name, path, true_pickup(chorale)
        count += 1
        if limit is not None and count >= limit:
            return


def cut_to_bars(path: Path, pickup: int, folder: Path) -> Path:
    """The chorale from its first bar line to its last whole bar, as a plain four-track file."""
    score = load_midi(path, infer_pickup=False)
    bar = score.steps_per_bar
    end = pickup + (score.num_steps - pickup) // bar * bar
    whole_bars = score.slice(pickup, end).replace(pickup=0)
    midi = mido.MidiFile(file=io.BytesIO(midi_bytes(whole_bars)))
    for track in midi.tracks:
        for k, msg in enumerate(track):
            if msg.type == "text" and msg.text == SIGNATURE:
                del track[k]
                break
    cut = folder / f"{path.stem}-cut.mid"
    midi.save(str(cut))
    return cut


def verdict(guess: int, truth: int) -> str:
    if truth == 0:
        return "kept_none" if guess == 0 else "false"
    if guess == truth:
        return "correct"
    return "missed" if guess == 0 else "wrong"


def measure(folder: Path, limit: int | None) -> dict:
    rows, unwritable = [], 0
    started = time.perf_counter()
    for item in chorales(folder, limit):
        if item is None:
            unwritable += 1
            continue
        index, name, path, truth = item
        row = {"index": index, "name": name, "truth": truth}
        for loader in LOADERS:
            row[loader] = load_midi(path, infer_pickup=loader == "new").pickup
        if truth:
            cut = cut_to_bars(path, truth, folder)
            for loader in LOADERS:
                row[f"{loader}_cut"] = load_midi(cut, infer_pickup=loader == "new").pickup
        rows.append(row)
    return {
        "chorales": len(rows),
        "not_written_by_music21": unwritable,
        "seconds": round(time.perf_counter() - started, 1),
        "all": tally(rows),
        "held_out": tally([r for r in rows if r["index"] % 2 == 1]),
        "rows": rows,
    }


def tally(rows: list[dict]) -> dict:
    result = {}
    for loader in LOADERS:
        counts = {"correct": 0, "wrong": 0, "missed": 0, "kept_none": 0, "false": 0}
        for row in rows:
            counts[verdict(row[loader], row["truth"])] += 1
        cut = [r[f"{loader}_cut"] for r in rows if r["truth"]]
        counts["cut_false"] = sum(1 for guess in cut if guess)
        result[loader] = counts
    result["with_pickup"] = sum(1 for r in rows if r["truth"])
    result["without_pickup"] = len(rows) - result["with_pickup"]
    return result


def table(title: str, counts: dict) -> str:
    p, n = counts["with_pickup"], counts["without_pickup"]
    lines = [
        f"{title}: {p} chorales with a pickup, {n} without",
        f"  {'':36} {'old loader':>12} {'this rule':>12}",
    ]
    for label, key, total in (
        ("pickup found (correct)", "correct", p),
        ("wrong pickup", "wrong", p),
        ("missed (read as 0)", "missed", p),
        ("false pickup on a chorale without", "false", n),
        ("false pickup, chorale cut to bar 1", "cut_false", p),
    ):
        old, new = counts["old"][key], counts["new"][key]
        lines.append(f"  {label:36} {f'{old}/{total}':>12} {f'{new}/{total}':>12}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N four-part chorales")
    parser.add_argument("--keep", type=Path, help="write the MIDI files here and keep them")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = measure(args.keep, args.limit)
    else:
        with tempfile.TemporaryDirectory(prefix="cantor-pickups-") as folder:
            result = measure(Path(folder), args.limit)
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
        return
    print(
        f"{result['chorales']} four-part chorales written to MIDI by music21"
        f" ({result['not_written_by_music21']} could not be written), {result['seconds']} s"
    )
    print(table("all", result["all"]))
    print(table("held out (odd-numbered)", result["held_out"]))
    bad = [r for r in result["rows"] if r["new"] != r["truth"]]
    if bad:
        print("this rule differs from the truth on:")
        for r in bad:
            print(f"  {r['index']:3d} {r['name']}: true pickup {r['truth']}, read {r['new']}")


if __name__ == "__main__":
    main()
