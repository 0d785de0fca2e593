"""Musicality measures of a four-part harmonization: what neither `cantor check` nor the repair counts.

Per piece, `measure` gathers counts; `pooled` turns the counts of many pieces into figures (totals
over totals, so long pieces weigh more), and `histogram_distances` compares their leap and
note-length histograms with a reference set (Bach's). The measures:

- final_tonic: the sonority at the melody's last sounding step is the tonic triad (root and third
  present, nothing foreign; in a minor key the major tonic of a Picardy third counts) with the
  tonic in the bass.
- final_cadence: final_tonic, reached by the bass from the dominant (bass 5 -> 1, the bass note
  before the last), with every voice holding the leading tone just before moving up a semitone
  to the tonic, or, in alto/tenor, down a third to the fifth (Bach's habit in inner voices).
- final_cadence_open: final_cadence, of the pieces whose melody allows one: it ends on a note
  of the tonic triad, reached from a note of the dominant seventh chord (the leading tone, 2, 4
  or 5; a modal tune that ends on 2, or comes to its tonic from the lowered 7th or from above by
  the 6th, leaves no place for a V–I with a rising leading tone). Read it beside final_cadence:
  it separates what the model writes from what the melodies permit.
- opening_tonic: of the pieces whose melody starts on the tonic, the share whose first sonority
  (at the melody's first sounding step) is the tonic triad over the tonic, as final_tonic.
- opening_tonic_triad: the same, of the pieces whose melody starts on a note of the tonic triad
  (1, 3 or 5; Bach's bass starts on the tonic under 0.92, 0.89 and 0.83 of them in the JSB data).
- rests_under_melody: share of the steps where the melody sounds at which some lower voice is
  silent (a voice dropping out mid-phrase).
- key_global: the key of the whole harmonization (music21's analysis, `harmony.estimate_key`)
  equals the reference's (Bach's harmonization); key_global_melody: equals the melody's key.
- key_local: per 2-bar window, the window's key equals the reference's key of the same window;
  key_local_melody: equals the key of the melody alone in that window.
- strong_complete: share of strong-beat sonorities (downbeats, and mid-bar in 4/x, 6/x, 12/x)
  that are complete major/minor triads or dominant sevenths; strong_six_four: share of them that
  are triads with the fifth in the bass.
- phrase_end_complete: of the score's own fermatas (phrase ends), the share whose sonority at the
  fermata's first step is a complete major or minor triad (Bach: 0.89 on the JSB test chorales).
- unresolved_sevenths: alto/tenor notes that are the seventh of a seventh chord on a beat where
  they sound and whose next note (without a rest between) is not 1-2 semitones lower,
  per 100 quarter notes.
- staggered_parallels: fifths/octaves between the same two voices on consecutive beats, both
  voices moving, with no rest between and at least one sonority of the pair in between (so the
  per-step checker, which compares consecutive sonorities, never sees them), per 100 quarters.
- leap and note-length histograms of alto, tenor and bass (see LEAP_BINS, LENGTH_BINS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations, pairwise

import numpy as np

from engine.music.harmony import (
    MINOR_TONIC_THIRDS,
    Key,
    beat_steps_of,
    estimate_key,
    is_six_four,
    is_triad_or_dominant_seventh,
    pitch_classes,
    seventh_pitch_class,
    strong_beat_steps,
    triad_root,
    windows,
)
from engine.music.score import NUM_VOICES, STEPS_PER_QUARTER, Score

LOWER_VOICES = (1, 2, 3)
LEAP_BINS = 14  # |interval| 0..12 semitones, then anything larger
LENGTH_BINS = (1, 2, 3, 4, 6, 8, 12, 16)  # note lengths in steps; one more bin for any other
SHARES = ("final_tonic", "final_cadence", "final_cadence_open", "opening_tonic",
          "opening_tonic_triad", "key_global",
          "key_global_melody", "key_local", "key_local_melody", "strong_complete", "strong_six_four",
          "phrase_end_complete", "rests_under_melody")
RATES = ("unresolved_sevenths", "staggered_parallels")


@dataclass
class Counts:
    """What `measure` found in one piece (or, summed, in many): numerators and denominators."""

    quarters: float = 0.0
    tallies: dict[str, list[int]] = field(default_factory=lambda: {k: [0, 0] for k in SHARES})
    events: dict[str, int] = field(default_factory=lambda: {k: 0 for k in RATES})
    leaps: np.ndarray = field(default_factory=lambda: np.zeros((3, LEAP_BINS), dtype=np.int64))
    lengths: np.ndarray = field(
        default_factory=lambda: np.zeros((3, len(LENGTH_BINS) + 1), dtype=np.int64))

    def tally(self, name: str, hit: bool | int, total: int = 1) -> None:
        self.tallies[name][0] += int(hit)
        self.tallies[name][1] += int(total)

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.quarters + other.quarters,
            {k: [a + b for a, b in zip(self.tallies[k], other.tallies[k])] for k in SHARES},
            {k: self.events[k] + other.events[k] for k in RATES},
            self.leaps + other.leaps,
            self.lengths + other.lengths,
        )


def measure(score: Score, key: Key | None, *, melody_key: Key | None = None,
            reference: Score | None = None) -> Counts:
    """Counts of one harmonization; `key` is the piece's key for the cadence measures."""
    counts = Counts(quarters=score.num_steps / STEPS_PER_QUARTER)
    p = score.pitches.astype(np.int32)
    if key is not None:
        last = _last_melody_step(p)
        tonic = last is not None and is_final_tonic(p, last, key)
        counts.tally("final_tonic", tonic)
        cadence = tonic and is_authentic_cadence(p, last, key)
        counts.tally("final_cadence", cadence)
        if last is not None and melody_allows_cadence(p[0], last, key):
            counts.tally("final_cadence_open", cadence)
        first = _first_melody_step(p)
        if first is not None and p[0, first] % 12 == key[0]:
            counts.tally("opening_tonic", is_final_tonic(p, first, key))
        thirds = MINOR_TONIC_THIRDS[:1] if key[1] else (4,)
        if first is not None and (p[0, first] - key[0]) % 12 in (0, 7, *thirds):
            counts.tally("opening_tonic_triad", is_final_tonic(p, first, key))
    melody = p[0] >= 0
    counts.tally("rests_under_melody", int((p[1:, melody] < 0).any(axis=0).sum()), int(melody.sum()))
    _key_measures(counts, score, reference, melody_key)
    for t in strong_beat_steps(score):
        if (p[:, t] >= 0).any():
            counts.tally("strong_complete", is_triad_or_dominant_seventh(pitch_classes(p[:, t])))
            counts.tally("strong_six_four", is_six_four(p[:, t]))
    for t in phrase_end_onsets(score):
        counts.tally("phrase_end_complete", triad_root(pitch_classes(p[:, t])) is not None)
    counts.events["unresolved_sevenths"] = len(unresolved_sevenths(score))
    counts.events["staggered_parallels"] = len(staggered_parallels(score))
    counts.leaps, counts.lengths = _histograms(score)
    return counts


def phrase_end_onsets(score: Score) -> list[int]:
    """First steps of the runs of the score's own fermatas (none when it has none)."""
    if score.fermatas is None:
        return []
    marks = np.asarray(score.fermatas, dtype=bool)
    return np.flatnonzero(marks & ~np.concatenate(([False], marks[:-1]))).tolist()


def _key_measures(counts: Counts, score: Score, reference: Score | None, melody_key) -> None:
    p = score.pitches
    found = estimate_key(p)
    if reference is not None:
        counts.tally("key_global", found == estimate_key(reference.pitches))
    if melody_key is not None:
        counts.tally("key_global_melody", found == melody_key)
    for start, end in windows(score):
        mine = estimate_key(p[:, start:end])
        if mine is None:
            continue
        if reference is not None and (theirs := estimate_key(reference.pitches[:, start:end])):
            counts.tally("key_local", mine == theirs)
        if (tune := estimate_key(p[:1, start:end])) is not None:
            counts.tally("key_local_melody", mine == tune)


def _first_melody_step(p: np.ndarray) -> int | None:
    sounding = np.flatnonzero(p[0] >= 0)
    return int(sounding[0]) if sounding.size else None


def _last_melody_step(p: np.ndarray) -> int | None:
    sounding = np.flatnonzero(p[0] >= 0)
    return int(sounding[-1]) if sounding.size else None


def is_final_tonic(p: np.ndarray, step: int, key: Key) -> bool:
    """The sonority at `step` is the tonic triad (root and third, fifth optional) over the tonic."""
    tonic, minor = key
    if p[3, step] < 0 or p[3, step] % 12 != tonic:
        return False
    pcs = pitch_classes(p[:, step])
    for third in MINOR_TONIC_THIRDS if minor else (4,):
        allowed = {tonic, (tonic + third) % 12, (tonic + 7) % 12}
        if pcs <= allowed and (tonic + third) % 12 in pcs:
            return True
    return False


def _note_start(voice: np.ndarray, step: int) -> int:
    """Where the pitch `voice` (T,) holds at `step` began (repeated or tied, the same pitch)."""
    start = step
    while start > 0 and voice[start - 1] == voice[step]:
        start -= 1
    return start


def melody_allows_cadence(melody: np.ndarray, step: int, key: Key) -> bool:
    """The melody (T,) ends at `step` on a note of the tonic triad (either third in minor), and
    the pitch it sang before that last note is in the dominant seventh chord (7, 2, 4, 5)."""
    tonic, minor = key
    thirds = MINOR_TONIC_THIRDS if minor else (4,)
    if melody[step] < 0 or (melody[step] - tonic) % 12 not in {0, 7, *thirds}:
        return False
    start = _note_start(melody, step)
    before = melody[:start][melody[:start] >= 0]
    return bool(before.size) and (int(before[-1]) - tonic) % 12 in (11, 2, 5, 7)


def is_authentic_cadence(p: np.ndarray, step: int, key: Key) -> bool:
    """Bass dominant -> tonic into the chord at `step`, the leading tone resolving (see module doc)."""
    tonic = key[0]
    start = _note_start(p[3], step)
    if start == 0 or p[3, start - 1] < 0 or p[3, start - 1] % 12 != (tonic + 7) % 12:
        return False
    before, after = p[:, start - 1], p[:, start]
    holders = [v for v in range(NUM_VOICES) if before[v] >= 0 and before[v] % 12 == (tonic + 11) % 12]
    if not holders:
        return False
    for v in holders:
        move = int(after[v] - before[v]) if after[v] >= 0 else None
        if move != 1 and not (v in (1, 2) and move == -4):
            return False
    return True


def unresolved_sevenths(score: Score) -> list[tuple[int, int]]:
    """(voice, step) of alto/tenor chord sevenths that do not move down by step to their next note."""
    p = score.pitches.astype(np.int32)
    # Only sonorities on beats: an off-beat passing note that happens to form a seventh is not
    # a chord seventh and owes no resolution.
    on_beat = np.zeros(score.num_steps, dtype=bool)
    on_beat[beat_steps_of(score)] = True
    found = []
    for v in (1, 2):
        for start, length, pitch in score.notes(v):
            end = start + length
            if end >= score.num_steps or p[v, end] < 0:
                continue  # no next note to resolve to
            if -2 <= p[v, end] - pitch <= -1:
                continue
            for t in range(start, end):
                if on_beat[t] and seventh_pitch_class(p[:, t]) == pitch % 12:
                    found.append((v, start))
                    break
    return found


def staggered_parallels(score: Score) -> list[tuple[int, int, int]]:
    """(upper voice, lower voice, step) of beat-to-beat parallels the per-step checker cannot see."""
    p = score.pitches.astype(np.int32)
    on = score.onsets
    beats = beat_steps_of(score)
    found = []
    for a, b in combinations(range(NUM_VOICES), 2):
        for s, t in pairwise(beats):
            span = slice(s, t + 1)
            if (p[a, span] < 0).any() or (p[b, span] < 0).any():
                continue
            if p[a, s] == p[a, t] or p[b, s] == p[b, t]:
                continue
            before, after = abs(p[a, s] - p[b, s]) % 12, abs(p[a, t] - p[b, t]) % 12
            if before != after or before not in (0, 7):
                continue
            if (on[a, s + 1:t] | on[b, s + 1:t]).any():
                found.append((a, b, int(t)))
    return found


def _histograms(score: Score) -> tuple[np.ndarray, np.ndarray]:
    leaps = np.zeros((3, LEAP_BINS), dtype=np.int64)
    lengths = np.zeros((3, len(LENGTH_BINS) + 1), dtype=np.int64)
    for row, v in enumerate(LOWER_VOICES):
        notes = [n for n in score.notes(v) if n[2] >= 0]
        for (s1, l1, p1), (s2, _, p2) in pairwise(notes):
            if s1 + l1 == s2:  # leaps across a rest are not melodic motion
                leaps[row, min(abs(p2 - p1), LEAP_BINS - 1)] += 1
        for _, length, _ in notes:
            bin_ = LENGTH_BINS.index(length) if length in LENGTH_BINS else len(LENGTH_BINS)
            lengths[row, bin_] += 1
    return leaps, lengths


def pooled(counts: list[Counts]) -> dict[str, float | None]:
    """Figures over many pieces: shares (None when nothing was counted) and rates per 100 quarters."""
    total = sum(counts, Counts())
    figures: dict[str, float | None] = {
        k: (hit / n if n else None) for k, (hit, n) in total.tallies.items()
    }
    scale = 100.0 / total.quarters if total.quarters else 0.0
    figures.update({k: total.events[k] * scale for k in RATES})
    return figures


def total_variation(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance between two histograms, each normalised (0 = the same, 1 = disjoint)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.sum() == 0 or b.sum() == 0:
        return float("nan")
    return 0.5 * float(np.abs(a / a.sum() - b / b.sum()).sum())


def histogram_distances(counts: list[Counts], reference: list[Counts]) -> dict[str, float]:
    """Total variation between the pooled leap / length histograms of A, T, B and the reference's."""
    mine, theirs = sum(counts, Counts()), sum(reference, Counts())
    out = {}
    for row, letter in enumerate("ATB"):
        out[f"leaps_{letter}"] = total_variation(mine.leaps[row], theirs.leaps[row])
        out[f"lengths_{letter}"] = total_variation(mine.lengths[row], theirs.lengths[row])
    return out
