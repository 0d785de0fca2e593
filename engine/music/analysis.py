"""What a melody suggests of itself: its key (fast enough for the UI).

`estimate_key` is the Krumhansl–Schmuckler method with the Temperley–Kostka–Payne profiles
(Temperley & Marvin 2008, from the Kostka–Payne textbook corpus): the duration-weighted pitch-class
histogram of the melody is correlated with the 24 rotations of the major and minor profiles, and
the best key wins. A melody alone often fits its relative major/minor almost equally well, so the
final note (which usually is the tonic) and the first note are weighted extra. Measured on melodies
whose key is known (tests/bench/key_estimate.py), these profiles name the key more often than the
Krumhansl–Kessler probe-tone profiles cantor used before (kept as `PROFILES["krumhansl"]` for
comparison). numpy only: the composer calls it on every change, and music21's analysis would cost
its import (seconds).

Where a melody's phrases end is guessed in engine/music/phrase_guess.py.
"""

from __future__ import annotations

import numpy as np

from engine.errors import CantorError, ScoreError
from engine.music.score import Score

# Major and minor key profiles, tonic first.
PROFILES = {
    # Temperley & Marvin (2008): pitch-class frequencies of the Kostka-Payne corpus.
    "temperley": ((0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400),
                  (0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330)),
    # Krumhansl & Kessler (1982) probe-tone ratings.
    "krumhansl": ((6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
                  (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)),
}
# Key names as cantor stores them (mido's spelling of key signatures).
MAJOR_KEYS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_KEYS = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")
FINAL_WEIGHT = 0.25  # share of the sounding length added to the last note's pitch class
FIRST_WEIGHT = 0.1  # ... and to the first note's


def _rotated_profiles(major, minor) -> np.ndarray:
    """(24, 12): rows 0-11 major keys on C..B, rows 12-23 minor keys, each centred and normed."""
    rows = [np.roll(np.asarray(p, dtype=float), tonic) for p in (major, minor) for tonic in range(12)]
    profiles = np.stack(rows)
    profiles -= profiles.mean(axis=1, keepdims=True)
    return profiles / np.linalg.norm(profiles, axis=1, keepdims=True)


_ROTATED = {name: _rotated_profiles(*pair) for name, pair in PROFILES.items()}


def estimate_key(score: Score, voices: tuple[int, ...] = (0,),
                 profiles: str = "temperley") -> str | None:
    """The key the notes of `voices` suggest ("F", "Dm"); None when nothing sounds."""
    rows = score.pitches[list(voices)]
    sounding = rows[rows >= 0].astype(np.int64) % 12
    if not sounding.size:
        return None
    histogram = np.bincount(sounding, minlength=12).astype(float)
    total = histogram.sum()
    first, last = _first_and_last_pitch(rows)
    histogram[last % 12] += FINAL_WEIGHT * total
    histogram[first % 12] += FIRST_WEIGHT * total
    centred = histogram - histogram.mean()
    norm = np.linalg.norm(centred)
    if norm == 0:
        return None
    best = int(np.argmax(_ROTATED[profiles] @ (centred / norm)))
    return MAJOR_KEYS[best] if best < 12 else MINOR_KEYS[best - 12]


def _first_and_last_pitch(rows: np.ndarray) -> tuple[int, int]:
    """The first and last sounding pitch of the lowest listed voice that sounds at those steps."""
    steps = np.flatnonzero((rows >= 0).any(axis=0))
    first_col, last_col = rows[:, steps[0]], rows[:, steps[-1]]
    first = int(first_col[first_col >= 0][-1])  # lowest listed voice: a bass line names the tonic
    last = int(last_col[last_col >= 0][-1])
    return first, last


def key_description(name: str | None) -> str:
    """"F" -> "F major", "F#m" -> "F# minor"; "" for None."""
    if not name:
        return ""
    if name.endswith("m"):
        return f"{name[:-1]} minor"
    return f"{name} major"


def parse_key_name(text: str) -> str:
    """A key as the user types it ("f", "F#m", "d minor", "Bb major", "B- major") -> "F", "F#m"."""
    from engine.music.midi_write import midi_key_name

    words = text.strip().split()
    if words:
        words[0] = words[0][:1].upper() + words[0][1:]
        if len(words) == 1 and len(words[0]) > 1 and words[0][-1] == "M":
            words[0] = words[0][:-1] + "m"  # "DM" typed with caps lock
    try:
        return midi_key_name(" ".join(w.lower() if i else w for i, w in enumerate(words)))
    except CantorError:
        raise ScoreError(
            f"unknown key {text.strip()!r}: use a name such as F, Bb, F#m or D minor"
        ) from None


def beat_length(score: Score) -> int:
    """Steps of the felt beat: a dotted quarter in 6/8, 9/8, 12/8; else the denominator's note."""
    num, den = score.time_signature
    if den >= 8 and num % 3 == 0 and num > 3:
        return 3 * score.steps_per_beat
    return score.steps_per_beat
