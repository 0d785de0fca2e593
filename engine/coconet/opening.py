"""An opening on the tonic: when the kept melody starts on the key's tonic, so does the bass.

Bach opens nearly every chorale whose melody starts on the tonic with the tonic triad in root
position; the model, starting from random notes, often does not (a third of the time for the
structure-aware model on the JSB test melodies). Harmonizing with `opening="tonic"` (the default)
writes the tonic into the bass under the melody's first note and keeps it there while the model
writes everything else, so the inner voices complete the chord around it. The key is the score's
own, else the estimate from the kept melody (engine/coconet/framing.py), as the model is told.

Nothing is pinned when the melody does not start on the tonic, when the bass is not being
generated at that note, or when no tonic fits the bass's range an octave or more below the melody.
"""

from __future__ import annotations

import numpy as np

from engine.coconet.framing import known_key
from engine.music.counterpoint import RANGES
from engine.music.score import Score

OPENINGS = ("tonic", "free")
BASS_HOME = 48  # C3: of two tonics in the bass's range, the one nearer this


def tonic_opening(score: Score, mask: np.ndarray,
                  chord_starts: np.ndarray | None = None) -> tuple[Score, np.ndarray] | None:
    """(score with the bass's opening tonic written, mask without those cells), or None.

    The tonic lasts as long as the melody's first note; under a harmonic rhythm (`chord_starts`,
    engine/coconet/ties.py) it lasts the first chord, and a melody that starts between chord
    starts gets no pinned opening (the chord there began before it)."""
    melody = score.pitches[0]
    kept = np.flatnonzero((melody >= 0) & ~mask[0])
    if not kept.size:
        return None
    start = int(kept[0])
    end = start + 1
    if chord_starts is None:
        end = score.note_span(0, start)[1]
    else:
        if not chord_starts[start]:
            return None
        while end < melody.size and not chord_starts[end]:
            end += 1
    if not mask[3, start:end].all():
        return None
    key = known_key(score, mask)
    if key is None or int(melody[start]) % 12 != key[0]:
        return None
    low, high = RANGES[3]
    tonics = [p for p in range(low, high + 1)
              if p % 12 == key[0] and p <= int(melody[start]) - 12]
    if not tonics:
        return None
    bass = min(tonics, key=lambda p: (abs(p - BASS_HOME), p))
    pitches, onsets = score.pitches.copy(), score.onsets.copy()
    pitches[3, start:end] = bass
    onsets[3, start:end] = False
    onsets[3, start] = True
    if end < pitches.shape[1] and pitches[3, end] >= 0:
        onsets[3, end] = True
    pinned = mask.copy()
    pinned[3, start:end] = False
    return score.replace(pitches=pitches, onsets=onsets), pinned
