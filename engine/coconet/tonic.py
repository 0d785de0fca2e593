"""The tonic at both ends: an opening and a final chord over the key's tonic in the bass.

Bach opens nearly every chorale whose melody starts on a note of the tonic triad with the tonic
in the bass (in the JSB data, 0.92 of those that start on the tonic, 0.89 on the third, 0.83 on
the fifth), and ends nearly every chorale on it (0.87 of the JSB test pieces). The model, starting
from random notes, often does neither: for the structure-aware model on the JSB test melodies, a
third of the openings and 0.6 of the endings. Harmonizing with `opening="tonic"` (the default)
writes the tonic into the bass under the melody's first note when that note is the tonic, the
third or the fifth (until 2026-12-07, the tonic only);
`ending="tonic"` (the default) writes it under the melody's last note when that note belongs to
the tonic triad (1, 3 or 5 of the key: a melody that ends on 2 or 7 asks for another chord, and
one that ends on 5 after raising the fourth in its last two bars has modulated to the dominant). The
pinned bass stays while the model writes everything else, so the inner voices complete the chord
and the model chooses the approach to it (whether a V–I cadence leads there is the model's own).
The key is the score's own, else the estimate from the kept melody (engine/coconet/framing.py),
as the model is told.

Nothing is pinned where the bass is not being generated at that note, or when no tonic fits the
bass's range an octave or more below the melody.
"""

from __future__ import annotations

import numpy as np

from engine.coconet.framing import known_key
from engine.music.counterpoint import RANGES
from engine.music.score import Score

OPENINGS = ("tonic", "free")
ENDINGS = ("tonic", "free")
BASS_HOME = 48  # C3: of two tonics in the bass's range, the one nearer this


def tonic_opening(score: Score, mask: np.ndarray,
                  chord_starts: np.ndarray | None = None) -> tuple[Score, np.ndarray] | None:
    """(score with the bass's opening tonic written, mask without those cells), or None.

    The tonic lasts as long as the melody's first note; under a harmonic rhythm (`chord_starts`,
    engine/coconet/ties.py) it lasts the first chord, and a melody that starts between chord
    starts gets no pinned opening (the chord there began before it)."""
    kept = _kept_melody(score, mask)
    if not kept.size:
        return None
    start = int(kept[0])
    if chord_starts is None:
        end = score.note_span(0, start)[1]
    else:
        if not chord_starts[start]:
            return None
        end = _chord_end(chord_starts, start)
    key = known_key(score, mask)
    if key is None or int(score.pitches[0, start]) % 12 not in _tonic_triad(key):
        return None
    return _pin_bass_tonic(score, mask, start, end, key)


def _tonic_triad(key, picardy: bool = False) -> set[int]:
    """Pitch classes of the key's tonic triad (with `picardy`, a minor key's major third too)."""
    tonic, minor = key
    thirds = ((3, 4) if picardy else (3,)) if minor else (4,)
    return {tonic, (tonic + 7) % 12} | {(tonic + t) % 12 for t in thirds}


def tonic_ending(score: Score, mask: np.ndarray,
                 chord_starts: np.ndarray | None = None) -> tuple[Score, np.ndarray] | None:
    """(score with the bass's final tonic written, mask without those cells), or None.

    The tonic lasts the melody's last note, from its onset to its end; under a harmonic rhythm it
    lasts the chord that starts with that note, and a last note that starts between chord starts
    gets no pinned ending (its chord began with an earlier melody note)."""
    kept = _kept_melody(score, mask)
    if not kept.size:
        return None
    last = int(kept[-1])
    start, end = score.note_span(0, last)
    if (score.pitches[0, end:] >= 0).any():  # a later melody note the caller is rewriting
        return None
    if chord_starts is not None:
        if not chord_starts[start]:
            return None
        end = max(end, _chord_end(chord_starts, start))
    key = known_key(score, mask)
    if key is None:
        return None
    # A minor piece may end on the major tonic (Picardy third).
    if int(score.pitches[0, start]) % 12 not in _tonic_triad(key, picardy=True):
        return None
    if _ends_in_the_dominant(score, mask, start, key):
        return None
    return _pin_bass_tonic(score, mask, start, end, key)


def _ends_in_the_dominant(score: Score, mask: np.ndarray, last: int, key) -> bool:
    """True for a melody that has modulated to the dominant at its end: it ends on the dominant
    and its last two bars raise the fourth degree (F# in C: the new key's leading tone). Its
    final chord is the dominant's tonic, not the home tonic; the model is left to write it."""
    tonic = key[0]
    if int(score.pitches[0, last]) % 12 != (tonic + 7) % 12:
        return False
    since = max(0, last - 2 * score.steps_per_bar)
    steps = np.flatnonzero((score.pitches[0, since:last] >= 0) & ~mask[0, since:last]) + since
    return bool(((score.pitches[0, steps] % 12) == (tonic + 6) % 12).any())


def _kept_melody(score: Score, mask: np.ndarray) -> np.ndarray:
    """Steps where the soprano sounds and is kept."""
    return np.flatnonzero((score.pitches[0] >= 0) & ~mask[0])


def _chord_end(chord_starts: np.ndarray, start: int) -> int:
    end = start + 1
    while end < chord_starts.size and not chord_starts[end]:
        end += 1
    return end


def _pin_bass_tonic(score: Score, mask: np.ndarray, start: int, end: int,
                    key) -> tuple[Score, np.ndarray] | None:
    """Write the tonic nearest C3 into the bass over [start, end), at least an octave below the
    melody there; None where the bass is kept there or no such tonic fits its range."""
    if not mask[3, start:end].all():
        return None
    melody = score.pitches[0, start:end]
    lowest_melody = int(melody[melody >= 0].min())
    low, high = RANGES[3]
    tonics = [p for p in range(low, high + 1) if p % 12 == key[0] and p <= lowest_melody - 12]
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
