"""Key estimation benchmark, run by hand: how often `estimate_key` names a melody's key.

The composer shows the estimated key, tells the model it, and pins the tonic at both ends from it
(engine/coconet/framing.py, tonic.py), so a wrong estimate costs the harmonization its key. Sets:

- JSB sopranos (each split): the pieces matched to music21's chorales, whose key comes from the
  chorale's key signature and final bass note (engine/training/chorale_meta.py); also the whole
  four-part pieces (all voices, as the composer estimates a score without a kept melody);
- Essen tunes: the first 12 usable tunes of each Essen file of folk_tunes.py that are *not* in
  folk_tunes.txt (a set for choosing the method), keyed as folk_tunes.py keys them;
- the folk tunes of folk_tunes.txt (the musicality benchmark's set).

    .venv/bin/python tests/bench/key_estimate.py [--profiles temperley,krumhansl] [--per-file 12]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import folk_tunes

from engine.music.analysis import PROFILES, estimate_key
from engine.music.keys import parse_key
from engine.music.score import Score

DATA = ROOT / ".." / "shared" / "data" / "Jsb16thSeparated.json"


def jsb_sets(path: Path) -> dict[str, list[tuple[Score, tuple[int, bool], tuple[int, ...]]]]:
    from engine.training.chorale_meta import load_jsb_metadata

    data, meta = json.loads(path.read_text()), load_jsb_metadata(path)
    sets = {}
    for split in ("train", "valid", "test"):
        melodies, whole = [], []
        for piece, info in zip(data[split], meta[split]):
            if not info or not info.get("time_signature"):
                continue  # unmatched: its key was read from its own notes
            pitches = np.asarray(piece, dtype=np.int16).T
            key = parse_key(info["key"])
            soprano = np.where(np.arange(4)[:, None] == 0, pitches, -1).astype(np.int16)
            melodies.append((Score(soprano), key, (0,)))
            whole.append((Score(pitches), key, (0, 1, 2, 3)))
        sets[f"JSB {split} sopranos"] = melodies
        sets[f"JSB {split} four-part"] = whole
    return sets


def essen_set(per_file: int) -> list:
    from music21 import corpus

    listed = set(folk_tunes.read_list())
    tunes = []
    for name in folk_tunes.ESSEN_FILES:
        path, found = f"essenFolksong/{name}", 0
        for tune in corpus.parse(path).scores:
            if (path, int(tune.metadata.number)) in listed:
                continue
            try:
                score, key = folk_tunes.melody_score(tune)
            except folk_tunes.Unusable:
                continue
            tunes.append((score, key, (0,)))
            found += 1
            if found == per_file:
                break
    return tunes


def folk_set() -> list:
    tunes = []
    for entry in folk_tunes.read_list():
        try:
            score, key = folk_tunes.load(entry)
        except folk_tunes.Unusable:
            continue
        tunes.append((score, key, (0,)))
    return tunes


def accuracy(items, profiles: str) -> float:
    return float(np.mean([parse_key(estimate_key(s, voices, profiles)) == tuple(key)
                          for s, key, voices in items]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument("--per-file", type=int, default=12)
    parser.add_argument("--data", default=str(DATA))
    args = parser.parse_args()
    names = [n for n in args.profiles.split(",") if n]
    sets = jsb_sets(Path(args.data))
    sets[f"Essen tunes not in the list ({args.per_file} a file)"] = essen_set(args.per_file)
    sets["folk_tunes.txt"] = folk_set()
    print("| set | pieces | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for label, items in sets.items():
        cells = [f"{accuracy(items, n):.3f}" for n in names]
        print(f"| {label} | {len(items)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
