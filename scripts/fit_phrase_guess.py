"""Fit engine/music/phrase_guess.py's numbers on the JSB-16th train melodies and score the guess.

    .venv/bin/python scripts/fit_phrase_guess.py --data ../shared/data/Jsb16thSeparated.json

Takes the pieces of each split whose fermatas were recovered from music21's corpus
(engine/training/chorale_meta.py), keeps the soprano alone (no key, no fermatas, as a melody from a
MIDI file), and
1. fits the logistic note model on the train melodies (a note is a phrase end when its first
   step is under one of Bach's fermatas; gradient descent on standardized features, L2 1e-3,
   deterministic);
2. counts Bach's phrase lengths in beats on train (add-one-half smoothing) for the prior;
3. chooses the prior's weight and the per-phrase constant on train (best F1);
4. prints the constants to paste into phrase_guess.py, and precision / recall / F1 of the guess
   against Bach's fermatas on each split, beside the rule used before.

A guessed end counts as found when its first step lies under a fermata; a fermata counts as
found when its first step lies under a guessed end.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.music.analysis import beat_length, estimate_key
from engine.music.keys import parse_key
from engine.music.phrase_guess import (
    FEATURES,
    choose_ends,
    note_features,
    rule_phrase_ends,
)
from engine.music.score import Score

MAX_GAP = 40  # beats


def melodies(path: Path, split: str) -> list[tuple[Score, np.ndarray, list, np.ndarray]]:
    """(melody, Bach's fermatas, its notes, their features) of the split's matched pieces."""
    from engine.training.chorale_meta import load_jsb_metadata

    with open(path) as handle:
        pieces = json.load(handle)[split]
    found = []
    for piece, meta in zip(pieces, load_jsb_metadata(path)[split]):
        if not meta or meta.get("fermatas") is None or not meta.get("time_signature"):
            continue
        bach = Score(np.asarray(piece, dtype=np.int16).T, time_signature=meta["time_signature"],
                     pickup=meta["pickup"])
        melody = bach.replace(pitches=np.where(np.arange(4)[:, None] == 0, bach.pitches, -1))
        notes = melody.notes(0)
        name = estimate_key(melody)
        features = note_features(melody, notes, parse_key(name) if name else None)
        found.append((melody, np.asarray(meta["fermatas"], dtype=bool), notes, features))
    return found


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 4000, rate: float = 0.5,
                 l2: float = 1e-3) -> np.ndarray:
    """Weights for the raw features (the standardization folded back in)."""
    mean, scale = x[:, 1:].mean(axis=0), x[:, 1:].std(axis=0) + 1e-9
    z = x.copy()
    z[:, 1:] = (x[:, 1:] - mean) / scale
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        w -= rate * (z.T @ (p - y) / len(y) + l2 * w)
    raw = w.copy()
    raw[1:] = w[1:] / scale
    raw[0] = w[0] - float((w[1:] * mean / scale).sum())
    return raw


def gap_prior(data) -> np.ndarray:
    gaps = Counter()
    for melody, marks, notes, _ in data:
        beat = beat_length(melody)
        previous = notes[0][0] if notes else 0
        for start, length, _ in notes:
            if marks[start]:
                gaps[min(MAX_GAP, round((start + length - previous) / beat))] += 1
                previous = start + length
    counts = np.array([gaps.get(g, 0) + 0.5 for g in range(MAX_GAP + 1)])
    counts[0] = 1e-6  # a phrase of no length
    return np.log(counts / counts.sum())


def score_guess(data, guess) -> tuple[float, float, float]:
    """(precision, recall, F1) of `guess(melody, notes, features) -> bool (T,)` against Bach's."""
    hit = guessed = marked = caught = 0
    for melody, marks, notes, features in data:
        ends = guess(melody, notes, features)
        guessed_starts = _run_starts(ends)
        bach_starts = _run_starts(marks)
        hit += int(marks[guessed_starts].sum())
        guessed += len(guessed_starts)
        caught += int(ends[bach_starts].sum())
        marked += len(bach_starts)
    precision, recall = hit / max(1, guessed), caught / max(1, marked)
    return precision, recall, 2 * precision * recall / max(1e-9, precision + recall)


def _run_starts(marks: np.ndarray) -> np.ndarray:
    return np.flatnonzero(marks & ~np.concatenate(([False], marks[:-1])))


def dp_guess(weights, prior, prior_weight, bonus):
    def guess(melody, notes, features):
        p = 1.0 / (1.0 + np.exp(-features @ weights))
        marks = np.zeros(melody.num_steps, dtype=bool)
        for i in choose_ends(melody, notes, p, gap_log_prior=prior, prior_weight=prior_weight,
                             bonus=bonus):
            start, length, _ = notes[i]
            marks[start:start + length] = True
        return marks
    return guess


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT / ".." / "shared" / "data" /
                                              "Jsb16thSeparated.json"))
    args = parser.parse_args()
    path = Path(args.data)
    splits = {s: melodies(path, s) for s in ("train", "valid", "test")}
    train = splits["train"]
    x = np.concatenate([f for *_, f in train])
    y = np.concatenate([[float(m[s]) for s, _, _ in notes] for _, m, notes, _ in train])
    weights = fit_logistic(x, y)
    prior = gap_prior(train)
    grid = [(pw, b) for pw in (0.25, 0.5, 1.0) for b in (1.0, 1.5, 2.0, 2.5, 3.0)]
    fits = {setting: score_guess(train, dp_guess(weights, prior, *setting))[2] for setting in grid}
    prior_weight, bonus = max(grid, key=lambda s: (round(fits[s], 4), -s[0], -s[1]))
    print(f"{len(train)} train melodies, {len(y)} notes, {int(y.sum())} under a fermata")
    print("\n# paste into engine/music/phrase_guess.py")
    print("WEIGHTS = np.array([" + ", ".join(f"{w:.4f}" for w in weights) + "])")
    print("GAP_LOG_PRIOR = np.array([" + ", ".join(f"{v:.4f}" for v in prior) + "])")
    print(f"PRIOR_WEIGHT = {prior_weight}\nPHRASE_BONUS = {bonus}\n")
    for name, w in zip(FEATURES, weights):
        print(f"  {name:<45} {w:+.3f}")
    print("\nsplit   melodies  guess: precision recall F1   | rule before: precision recall F1")
    for split, data in splits.items():
        new = score_guess(data, dp_guess(weights, prior, prior_weight, bonus))
        old = score_guess(data, lambda melody, notes, features: rule_phrase_ends(melody))
        print(f"{split:<7} {len(data):>8}  " + " ".join(f"{v:.3f}" for v in new)
              + "   | " + " ".join(f"{v:.3f}" for v in old))
    return 0


if __name__ == "__main__":
    sys.exit(main())
