"""Chord labels, metric positions and key estimates of a four-part `Score`, for the musicality measures.

A *sonority* is the set of pitches sounding at one step. Chords are named by pitch-class set
relative to a root (templates below); a key is `(tonic pitch class, minor)`. Key estimation is
music21's default key analysis (Krumhansl–Schmuckler with the Aarden–Essen profiles): the
duration-weighted pitch-class histogram is correlated with each of the 24 rotated key profiles
and the best one wins. It runs on numpy here so that thousands of windows stay fast; only the
profile weights are read from music21 (lazily, so this module imports without it).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.errors import CantorError
from engine.music.score import Score

Key = tuple[int, bool]  # (tonic pitch class, minor)

TRIADS = {"major": (0, 4, 7), "minor": (0, 3, 7)}
# Seventh chords, complete or with the fifth left out (the usual omission in four parts).
SEVENTHS = {
    "dominant7": (0, 4, 7, 10),
    "minor7": (0, 3, 7, 10),
    "half-diminished7": (0, 3, 6, 10),
    "major7": (0, 4, 7, 11),
}
SEVENTH_INTERVAL = {name: pcs[-1] for name, pcs in SEVENTHS.items()}
MINOR_TONIC_THIRDS = (3, 4)  # a minor-key piece may end on a major tonic (Picardy third)


def pitch_classes(column: np.ndarray) -> frozenset[int]:
    """Pitch classes of the sounding pitches of one step."""
    return frozenset(int(p) % 12 for p in column if p >= 0)


def triad_root(pcs: frozenset[int]) -> tuple[int, str] | None:
    """(root, "major"|"minor") when the pitch classes are exactly a complete triad."""
    if len(pcs) != 3:
        return None
    for root in pcs:
        for quality, shape in TRIADS.items():
            if pcs == {(root + i) % 12 for i in shape}:
                return root, quality
    return None


def seventh_root(pcs: frozenset[int]) -> tuple[int, str] | None:
    """(root, kind) when the pitch classes are a seventh chord (the fifth may be missing).

    Diminished sevenths are symmetric (no one root), so they are not labelled.
    """
    if len(pcs) not in (3, 4):
        return None
    for root in sorted(pcs):
        for kind, shape in SEVENTHS.items():
            full = {(root + i) % 12 for i in shape}
            no_fifth = full - {(root + shape[2]) % 12}
            if pcs == full or pcs == no_fifth:
                return root, kind
    return None


def is_triad_or_dominant_seventh(pcs: frozenset[int]) -> bool:
    """A complete major/minor triad, or a dominant seventh (fifth optional)."""
    if triad_root(pcs) is not None:
        return True
    found = seventh_root(pcs)
    return found is not None and found[1] == "dominant7"


def is_six_four(column: np.ndarray) -> bool:
    """A complete major/minor triad with its fifth in the bass (the lowest sounding voice)."""
    found = triad_root(pitch_classes(column))
    sounding = [int(p) for p in column if p >= 0]
    return found is not None and min(sounding) % 12 == (found[0] + 7) % 12


def seventh_pitch_class(column: np.ndarray) -> int | None:
    """The pitch class of the chord seventh when the step's sonority is a seventh chord."""
    found = seventh_root(pitch_classes(column))
    if found is None:
        return None
    root, kind = found
    return (root + SEVENTH_INTERVAL[kind]) % 12


# --- meter ---------------------------------------------------------------------------------------


def beat_steps(score: Score) -> int:
    """Steps per felt beat: the dotted quarter in compound meters (6/8, 9/8, 12/8), else the denominator."""
    num, den = score.time_signature
    if den == 8 and num % 3 == 0 and num > 3:
        return 6
    return score.steps_per_beat


def strong_beat_steps(score: Score) -> np.ndarray:
    """Steps on a downbeat, or on the middle of the bar in 4/x, 6/x and 12/x meters."""
    bar = score.steps_per_bar
    within = (np.arange(score.num_steps) - score.pickup) % bar
    strong = within == 0
    if score.time_signature[0] in (4, 6, 12):
        strong |= within == bar // 2
    return np.flatnonzero(strong)


def beat_steps_of(score: Score) -> np.ndarray:
    """Every step that starts a beat (see `beat_steps`), counted from the bar lines."""
    within = (np.arange(score.num_steps) - score.pickup) % score.steps_per_bar
    return np.flatnonzero(within % beat_steps(score) == 0)


def windows(score: Score, bars: int = 2) -> list[tuple[int, int]]:
    """[start, end) of consecutive `bars`-bar windows; the pickup joins the first, a short tail the last."""
    size = bars * score.steps_per_bar
    bounds = list(range(score.pickup, score.num_steps, size))
    if not bounds:
        return [(0, score.num_steps)] if score.num_steps else []
    bounds[0] = 0
    if len(bounds) > 1 and score.num_steps - bounds[-1] < score.steps_per_bar:
        bounds.pop()  # a tail under a bar is too short for a key of its own
    return list(zip(bounds, [*bounds[1:], score.num_steps]))


# --- keys ----------------------------------------------------------------------------------------


class KeyAnalysisUnavailable(CantorError):
    """music21 (which supplies the key profiles) is not installed."""


@lru_cache(maxsize=1)
def key_profiles() -> np.ndarray:
    """(24, 12) rotated profiles: rows 0-11 major keys on C..B, rows 12-23 minor keys."""
    try:
        from music21.analysis.discrete import AardenEssen
    except ImportError as exc:
        raise KeyAnalysisUnavailable("key analysis needs music21: pip install music21") from exc
    analysis = AardenEssen()
    rows = []
    for mode in ("major", "minor"):
        weights = np.asarray(analysis.getWeights(mode), dtype=float)
        rows += [np.roll(weights, tonic) for tonic in range(12)]
    return np.stack(rows)


def pitch_class_histogram(pitches: np.ndarray) -> np.ndarray:
    """Steps sounded per pitch class (a duration-weighted histogram) over a (voices, steps) array."""
    sounding = pitches[pitches >= 0].astype(int) % 12
    return np.bincount(sounding, minlength=12).astype(float)


def estimate_key(pitches: np.ndarray) -> Key | None:
    """The best-correlated key of a (voices, steps) pitch array; None when too little sounds."""
    histogram = pitch_class_histogram(np.atleast_2d(pitches))
    if histogram.sum() == 0 or np.all(histogram == histogram[0]):
        return None
    profiles = key_profiles()
    h = histogram - histogram.mean()
    p = profiles - profiles.mean(axis=1, keepdims=True)
    correlation = (p @ h) / np.sqrt((p**2).sum(axis=1) * (h**2).sum())
    best = int(np.argmax(correlation))
    return best % 12, best >= 12


def key_text(key: Key | None) -> str:
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    return "?" if key is None else names[key[0]] + ("m" if key[1] else "")
