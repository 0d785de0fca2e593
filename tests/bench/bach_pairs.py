"""Bach against Bach: how far two of Bach's own harmonizations of one melody agree, run by hand.

The musicality benchmark (musicality.py) compares a harmonization's keys with those of Bach's
harmonization of the same melody: the key of the whole and the key of every 2-bar window. Bach
set some chorale melodies more than once, and the JSB-16th data holds several such settings of a
soprano identical step for step (up to transposition). Measuring one of those settings against
the other tells how much of the key rows a harmonization can reach at all when the melody alone
is given: the ceiling of those rows, which a goal set above it cannot meet.

Pairs that share most of their alto/tenor/bass cells (`--same`, default 0.8) are one setting in two
versions, not two settings, and are left out (listed all the same).

    .venv/bin/python tests/bench/bach_pairs.py [--data Jsb16thSeparated.json] [--same 0.8]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DATA = ROOT / ".." / "shared" / "data" / "Jsb16thSeparated.json"
SPLITS = ("train", "valid", "test")


def same_melody_groups(pieces: dict[str, list]) -> list[list[tuple[str, int]]]:
    """Groups (two or more) of (split, index) whose sopranos are equal step for step up to one
    transposition for the whole piece, rests included; `pieces` maps a split to (T, 4) pieces."""
    groups: dict[tuple, list[tuple[str, int]]] = defaultdict(list)
    for split in SPLITS:
        for index, piece in enumerate(pieces.get(split, [])):
            soprano = np.asarray(piece)[:, 0].astype(int)
            sounding = soprano[soprano > 0]
            if not len(sounding):
                continue
            shape = tuple(np.where(soprano > 0, soprano - sounding[0], -999).tolist())
            groups[shape].append((split, index))
    return [g for g in groups.values() if len(g) > 1]


def aligned(piece: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(4, T) pitches of `piece` (T, 4) transposed so that its soprano sounds as `reference`'s;
    rests (0 or less in the data) become -1."""
    a, b = np.asarray(piece).T.astype(int), np.asarray(reference).T.astype(int)
    shift = int(b[0][b[0] > 0][0] - a[0][a[0] > 0][0])
    return np.where(a > 0, a + shift, -1).astype(np.int16)


def score_of(pitches: np.ndarray, meta: dict | None):
    from engine.music.score import Score

    info = meta or {}
    fields = {k: info[k] for k in ("time_signature", "pickup", "fermatas") if info.get(k) is not None}
    return Score(pitches, **fields)


def compare(first, second) -> dict[str, float | None]:
    """Key rows of `second` measured against `first` (two scores of one melody, one meter), and
    the share of alto/tenor/bass cells under the melody in which they differ."""
    from engine.music.harmony import estimate_key
    from engine.music.musicality import measure, pooled

    figures = pooled([measure(second, estimate_key(second.pitches), reference=first)])
    melody = first.pitches[0] >= 0
    differ = float((first.pitches[1:, melody] != second.pitches[1:, melody]).mean())
    return {"key_global": figures["key_global"], "key_local": figures["key_local"],
            "differ": differ}


def pairs(pieces: dict[str, list], meta: dict[str, list]) -> list[dict]:
    """Every pair of one group, measured both ways round (the key rows are symmetric; both are
    kept so a check can see it), with the first piece's meter for both."""
    rows = []
    for group in same_melody_groups(pieces):
        for i, one in enumerate(group):
            for other in group[i + 1:]:
                a, b = pieces[one[0]][one[1]], pieces[other[0]][other[1]]
                info = meta[one[0]][one[1]] or meta[other[0]][other[1]]
                first = score_of(aligned(a, a), info)
                second = score_of(aligned(b, a), info)
                forward, backward = compare(first, second), compare(second, first)
                rows.append({"pair": (one, other), **{k: (forward[k], backward[k])
                                                       for k in forward}})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA), help="Jsb16thSeparated.json")
    parser.add_argument("--same", type=float, default=0.8,
                        help="pairs sharing at least this share of A/T/B cells are one setting")
    args = parser.parse_args()
    data = Path(args.data)
    if not data.is_file():
        print(f"bach_pairs: error: no JSB-16th data at {data} (--data PATH)", file=sys.stderr)
        return 1
    from engine.training.chorale_meta import load_jsb_metadata

    with open(data) as handle:
        pieces = json.load(handle)
    meta = load_jsb_metadata(data)
    rows = pairs(pieces, meta)
    print("| pair | A/T/B cells that differ | key of the whole agrees | 2-bar key agrees |")
    print("|---|---|---|---|")
    kept = []
    for row in rows:
        (s1, i1), (s2, i2) = row["pair"]
        differ = float(np.mean(row["differ"]))
        one = differ > 1 - args.same
        if one:
            kept.append(row)
        local = np.mean(row["key_local"]) if None not in row["key_local"] else None
        print(f"| {s1} {i1} – {s2} {i2}{'' if one else ' (one setting)'} | {differ:.2f} |"
              f" {np.mean(row['key_global']):.2f} |"
              f" {'—' if local is None else f'{local:.2f}'} |")
    if not kept:
        print("\nno pair of distinct settings")
        return 0
    for name, text in (("key_global", "key of the whole agrees"), ("key_local", "2-bar key agrees"),
                       ("differ", "A/T/B cells that differ")):
        values = [float(np.mean(r[name])) for r in kept if None not in r[name]]
        print(f"\n{text}: {np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}"
              f" (mean ± sd over {len(values)} pairs of distinct settings)", end="")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
