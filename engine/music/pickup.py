"""Guessing a pickup (anacrusis) from the music, for MIDI files that do not mark one.

Used by `engine.music.midi` for files other than cantor's own that give no short first bar. The rule:
- Each 16th step has a salience: the number of voices striking a note there, plus half the length
  in 16ths of the longest note struck there (a quarter adds 2, a half note 4), plus 1 where the set
  of pitch classes sounding changes (a new chord).
- Each candidate pickup p, every 16th step from 0 to a bar minus one step, puts bar lines at p,
  p + bar, p + 2 bar... Its score: the mean salience on those bar lines, in units of the mean
  salience of a beat; plus half the same on the mid-bar lines when the numerator is even (4/4, 2/2,
  6/8: the middle of the bar is strong too); plus 0.2 when the last note struck falls on a bar or
  mid-bar line; minus 0.3 for a pickup of half a bar or more (rarer, and the usual confusion of
  beat 1 with beat 3).
- The best candidate wins only when it scores more than 0.2 above pickup 0, so music without
  clear evidence keeps pickup 0; so do pieces shorter than two bars.
The constants were chosen, and the rule measured, on music21's Bach chorales written to MIDI by
music21 (tests/bench/pickup_accuracy.py).
"""

from __future__ import annotations

import numpy as np

HALF_BAR_WEIGHT = 0.5
LAST_NOTE_BONUS = 0.2
LONG_PICKUP_PENALTY = 0.3
MARGIN = 0.2


def infer_pickup(pitches: np.ndarray, onsets: np.ndarray, time_signature: tuple[int, int]) -> int:
    """The pickup (in 16th steps) the music suggests for this meter, or 0 without clear evidence."""
    scores = pickup_scores(pitches, onsets, time_signature)
    if not scores:
        return 0
    best = max(scores, key=scores.__getitem__)  # ties keep the shortest (0 first)
    return best if scores[best] - scores[0] > MARGIN else 0


def pickup_scores(
    pitches: np.ndarray, onsets: np.ndarray, time_signature: tuple[int, int]
) -> dict[int, float]:
    """Score of every candidate pickup by the rule in the module docstring ({} when none applies)."""
    num, den = time_signature
    bar = num * 16 // den
    steps = pitches.shape[1]
    if bar < 2 or steps < 2 * bar:
        return {}
    salience, last_strike = _salience(pitches, onsets)
    if last_strike < 0:
        return {}
    beat = max(1, 16 // den)
    scale = max(salience[phase::beat].mean() for phase in range(beat))  # mean salience of a beat
    if scale <= 0:
        return {}
    on_bar_line = np.array([salience[p::bar].mean() / scale for p in range(bar)])
    halves = num % 2 == 0
    scores = {}
    for p in range(bar):
        score = on_bar_line[p]
        if halves:
            score += HALF_BAR_WEIGHT * on_bar_line[(p + bar // 2) % bar]
        position = (last_strike - p) % bar
        if position == 0 or (halves and 2 * position == bar):
            score += LAST_NOTE_BONUS
        if 2 * p >= bar:
            score -= LONG_PICKUP_PENALTY
        scores[p] = float(score)
    return scores


def _salience(pitches: np.ndarray, onsets: np.ndarray) -> tuple[np.ndarray, int]:
    """(salience per step, last step where a note is struck or -1)."""
    voices, steps = pitches.shape
    sounding = pitches >= 0
    previous = np.concatenate([np.full((voices, 1), -1, pitches.dtype), pitches[:, :-1]], axis=1)
    struck = sounding & (onsets | (pitches != previous))
    strikes = struck.sum(axis=0)
    longest = np.zeros(steps)
    for v in range(voices):
        starts = np.flatnonzero(struck[v])
        # A note lasts until the next strike or silence in its voice.
        bounds = np.append(np.flatnonzero(struck[v] | ~sounding[v]), steps)
        ends = bounds[np.searchsorted(bounds, starts, side="right")]
        longest[starts] = np.maximum(longest[starts], ends - starts)
    classes = np.where(sounding, 1 << (pitches.astype(np.int64) % 12), 0)
    chord = np.bitwise_or.reduce(classes, axis=0)
    new_chord = chord != np.concatenate([[0], chord[:-1]])
    salience = strikes + longest / 2 + new_chord
    hits = np.flatnonzero(strikes)
    return salience, int(hits[-1]) if hits.size else -1
