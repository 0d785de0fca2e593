"""Where a bare melody's phrases end, guessed as Bach marked them: a fitted note model and a phrase-length prior.

A melody from a MIDI file has no fermatas, yet the structure-aware model reads phrase ends as
input, and the composer shows them for the user to correct. Each note of the melody gets a
probability of ending a phrase from a logistic model of a few facts about it (its length against
a beat and against its neighbours, where it starts and ends in the bar, whether it ends where the
piece's own first bar line falls, a rest or a leap after it, its degree in the estimated key).
Then one set of phrase ends is chosen for the whole melody by dynamic programming, adding each
chosen note's log-odds, a log-prior of the phrase length in beats since the previous end (Bach's
phrases are mostly 8 beats long, then 9, 7, 12 and 10) and a constant per phrase; the last note
always ends a phrase.

The numbers below were fitted on the melodies of the JSB-16th train split (the 154 chorales
whose fermatas were recovered from music21's corpus; engine/training/chorale_meta.py) by
`scripts/fit_phrase_guess.py`, which also prints how well the guess finds Bach's fermatas on the
valid and test splits (the README, "Phrase ends from a bare melody", has the figures). It is what
`guess_phrase_ends` gives, the composer shows and the model is told. The rule used before it (the
longest note of each second bar, `rule_phrase_ends`) is kept for comparison.
"""

from __future__ import annotations

import numpy as np

from engine.music.analysis import beat_length, estimate_key
from engine.music.keys import parse_key
from engine.music.score import Score

FEATURES = ("bias", "log2 length in beats", "log2 length / previous", "log2 length / next",
            "ends where a bar of the piece's start falls", "ends on a beat", "starts on a downbeat",
            "starts mid-bar in 4 beats", "rest or end after", "ends an even number of bars in",
            "ends a multiple of 4 bars in", "leap after (octaves)", "leap before (octaves)",
            "tonic triad degree", "tonic", "last note")

# Fitted by scripts/fit_phrase_guess.py (weights for the raw features above; see the module
# docstring for the data).
WEIGHTS = np.array([
    -5.2494, 1.4132, -0.1051, 0.4689, -0.2853, -0.3231, -0.6287, 2.4266, 3.5262, 2.4801, 0.2627,
    5.0680, -3.2722, 0.4677, -0.0564, -0.0794,
])
# Log-prior of a phrase's length in beats, 0..MAX_GAP (longer gaps take the last entry).
GAP_LOG_PRIOR = np.array([
    -20.6168, -6.3958, -6.3958, -4.6612, -3.2897, -4.1271, -3.3836, -2.5177, -1.0503, -1.9072,
    -2.5744, -3.2603, -2.5040, -4.1986, -4.6612, -4.3589, -3.6026, -5.0965, -5.5485, -5.0965,
    -5.0965, -5.8850, -6.3958, -7.4944, -4.2756, -6.3958, -5.8850, -7.4944, -5.8850, -7.4944,
    -7.4944, -7.4944, -6.3958, -7.4944, -7.4944, -7.4944, -7.4944, -7.4944, -7.4944, -7.4944,
    -5.5485,
])
PRIOR_WEIGHT = 0.5
PHRASE_BONUS = 2.0
MAX_GAP = len(GAP_LOG_PRIOR) - 1


def note_features(score: Score, notes: list[tuple[int, int, int]], key) -> np.ndarray:
    """(notes, len(FEATURES)) facts about each note of a melody (`notes`: Score.notes)."""
    bar, beat = score.steps_per_bar, beat_length(score)
    tonic, minor = key if key is not None else (0, False)
    stable = {0, 7, 3 if minor else 4}
    first = notes[0][0] if notes else 0
    rows = np.zeros((len(notes), len(FEATURES)))
    for i, (start, length, pitch) in enumerate(notes):
        before = notes[i - 1] if i else None
        after = notes[i + 1] if i + 1 < len(notes) else None
        end = start + length
        since = end - first
        on_bar_line = since % bar == 0
        rows[i] = (
            1.0,
            np.log2(length / beat),
            np.log2(length / before[1]) if before else 0.0,
            np.log2(length / after[1]) if after else 0.0,
            float(on_bar_line),
            float(since % beat == 0),
            float((start - score.pickup) % bar == 0),
            float((start - score.pickup) % (bar // 2) == 0 and bar // beat >= 4),
            float(after is None or after[0] > end),
            float(on_bar_line and (since // bar) % 2 == 0),
            float(on_bar_line and (since // bar) % 4 == 0),
            abs(after[2] - pitch) / 12 if after else 0.0,
            abs(pitch - before[2]) / 12 if before else 0.0,
            float((pitch - tonic) % 12 in stable),
            float((pitch - tonic) % 12 == 0),
            float(after is None),
        )
    return rows


def end_probabilities(score: Score, notes, key, weights=WEIGHTS) -> np.ndarray:
    """Each note's probability of ending a phrase, by the logistic model alone."""
    return 1.0 / (1.0 + np.exp(-note_features(score, notes, key) @ weights))


def choose_ends(score: Score, notes, probabilities: np.ndarray, *, gap_log_prior=GAP_LOG_PRIOR,
                prior_weight: float = PRIOR_WEIGHT, bonus: float = PHRASE_BONUS) -> list[int]:
    """Indices of the notes that end phrases: the best set by the module docstring's score."""
    if not notes:
        return []
    beat = beat_length(score)
    p = np.clip(probabilities, 1e-6, 1 - 1e-6)
    gain = np.log(p) - np.log1p(-p) + bonus
    first = notes[0][0]
    ends = np.array([start + length for start, length, _ in notes])
    top = len(gap_log_prior) - 1

    def prior(steps):
        return prior_weight * gap_log_prior[np.minimum(np.rint(steps / beat).astype(int), top)]

    best = gain + prior(ends - first)
    back = np.full(len(notes), -1)
    for j in range(1, len(notes)):
        # Only ends within a long phrase's reach compete (the prior is flat beyond it).
        lo = int(np.searchsorted(ends, ends[j] - 4 * top * beat))
        if lo < j:
            candidates = best[lo:j] + prior(ends[j] - ends[lo:j])
            k = int(np.argmax(candidates))
            if candidates[k] + gain[j] > best[j]:
                best[j], back[j] = candidates[k] + gain[j], lo + k
    chosen, j = [], len(notes) - 1
    while j >= 0:
        chosen.append(j)
        j = int(back[j])
    return chosen[::-1]


def guess_phrase_ends(score: Score, voice: int = 0) -> np.ndarray:
    """Bool (T,): the phrase ends the composer shows and the model is told for a melody without
    fermatas: the learned guess (`learned_phrase_ends`). It finds Bach's fermatas far better than
    the rule before it (F1 0.80 against 0.49 on the test melodies) and gives harmonizations of bare
    melodies better keys and final cadences; with it, repair needs more rounds to leave as few
    `cantor check` findings (engine/coconet/defaults.py; README, "Phrase ends from a bare melody")."""
    return learned_phrase_ends(score, voice)


def learned_phrase_ends(score: Score, voice: int = 0) -> np.ndarray:
    """Bool (T,): the steps of the notes of `voice` guessed to end phrases (as Score.fermatas)."""
    marks = np.zeros(score.num_steps, dtype=bool)
    notes = score.notes(voice)
    if not notes:
        return marks
    name = estimate_key(score, (voice,))
    key = parse_key(name) if name else None
    for index in choose_ends(score, notes, end_probabilities(score, notes, key)):
        start, length, _ = notes[index]
        marks[start:start + length] = True
    return marks


def rule_phrase_ends(score: Score, voice: int = 0) -> np.ndarray:
    """The rule used before the learned guess: in each group of two bars (counted from bar 1; a
    pickup belongs to bar 1's group), the longest note starting in the group's second bar that
    lasts at least a beat and is longer than the note before it and not shorter than the note
    after; plus the final note."""
    ends = np.zeros(score.num_steps, dtype=bool)
    notes = score.notes(voice)
    if not notes:
        return ends
    beat = beat_length(score)
    best: dict[int, tuple[int, int]] = {}  # group -> (length, index) of the best note so far
    for i, (start, length, _pitch) in enumerate(notes):
        bar = score.location(start)[0]
        if bar < 1 or bar % 2 or length < beat:
            continue
        before = notes[i - 1][1] if i > 0 and notes[i - 1][0] + notes[i - 1][1] == start else 0
        after = notes[i + 1][1] if i + 1 < len(notes) else 0
        if length <= before or length < after:
            continue
        group = bar // 2
        if group not in best or length >= best[group][0]:  # ties: the later note
            best[group] = (length, i)
    chosen = {i for _, i in best.values()} | {len(notes) - 1}
    for i in chosen:
        start, length, _ = notes[i]
        ends[start : start + length] = True
    return ends
