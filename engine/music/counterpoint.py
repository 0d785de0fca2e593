"""Part-writing checks on a four-part score: parallels, voice crossing, ranges, spacing.

A *sonority* of two voices is a step where either of them strikes a note while both sound.
The rules, each finding placed at a step (bar:beat via `Score.location_text`):

- parallel_fifths / parallel_octaves (any two voices): two consecutive sonorities of the pair,
  with no rest in either voice between them, where both voices move and the interval is a perfect
  fifth (size mod 12 = 7) both times, or an octave/unison (mod 12 = 0) both times. This includes
  fifths and octaves by contrary motion (a fifth to a twelfth), which strict part writing also
  forbids. Reported at the second sonority.
- voice_crossing (adjacent voices S-A, A-T, T-B): a sonority where the upper voice sounds below
  the lower one.
- out_of_range: a note (at its onset) outside its voice's range, `RANGES` (the usual textbook
  compass: soprano C4-G5, alto G3-D5, tenor C3-G4, bass E2-C4).
- spacing: a sonority with more than an octave between soprano and alto or alto and tenor.

Rates are findings per 100 quarter notes of the score's length.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import combinations

import numpy as np

from engine.music.analysis import estimate_key
from engine.music.score import NUM_VOICES, STEPS_PER_QUARTER, VOICE_LETTERS, Score
from engine.music.spelling import spell

KINDS = ("parallel_fifths", "parallel_octaves", "voice_crossing", "out_of_range", "spacing")
KIND_NAMES = {
    "parallel_fifths": "parallel fifths",
    "parallel_octaves": "parallel octaves/unisons",
    "voice_crossing": "voice crossing",
    "out_of_range": "out of range",
    "spacing": "spacing over an octave",
}
# MIDI ranges per voice (inclusive): S C4-G5, A G3-D5, T C3-G4, B E2-C4.
RANGES = ((60, 79), (55, 74), (48, 67), (40, 60))
SPACED_PAIRS = ((0, 1), (1, 2))


def note_name(pitch: int, key: str | None = None) -> str:
    """The pitch's name with its octave, spelled for `key` (C major when None): Ab4 in Eb, G#4 in A."""
    return spell(int(pitch), key)


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    voices: tuple[int, ...]  # (upper, lower) for pair rules, (voice,) for the range rule
    step: int
    location: str  # bar:beat
    detail: str
    previous: int | None = None  # parallels: the step of the sonority the motion comes from

    def to_dict(self) -> dict:
        data = asdict(self)
        data["voices"] = "".join(VOICE_LETTERS[v] for v in self.voices)
        return data


@dataclass
class Report:
    findings: list[Finding]
    quarter_notes: float
    counts: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.counts = {kind: 0 for kind in KINDS}
        for finding in self.findings:
            self.counts[finding.kind] += 1

    @property
    def rates(self) -> dict[str, float]:
        """Findings of each kind per 100 quarter notes."""
        return rates_per_100_quarters(self.counts, self.quarter_notes)

    def at_step(self, step: int) -> list[Finding]:
        return [f for f in self.findings if f.step == step]

    def to_dict(self) -> dict:
        return {
            "quarter_notes": self.quarter_notes,
            "counts": dict(self.counts),
            "rates_per_100_quarters": {k: round(v, 4) for k, v in self.rates.items()},
            "findings": [f.to_dict() for f in self.findings],
        }


def rates_per_100_quarters(counts: dict[str, int], quarter_notes: float) -> dict[str, float]:
    scale = 100.0 / quarter_notes if quarter_notes else 0.0
    return {kind: counts.get(kind, 0) * scale for kind in KINDS}


def pooled_rates(reports: list[Report]) -> dict[str, float]:
    """Rates over many scores together (total findings / total length)."""
    counts = {kind: sum(r.counts[kind] for r in reports) for kind in KINDS}
    return rates_per_100_quarters(counts, sum(r.quarter_notes for r in reports))


def check_score(score: Score) -> Report:
    """Every finding of the rules above, in time order."""
    p = score.pitches.astype(np.int32)
    on = score.onsets
    key = score.key or estimate_key(score)  # notes are named as the composer spells them

    def name(pitch) -> str:
        return note_name(pitch, key)

    found: list[tuple] = []  # (kind, voices, step, detail[, previous step])
    for upper, lower in combinations(range(NUM_VOICES), 2):
        found += _parallels(p, on, upper, lower, name)
        if lower == upper + 1:
            found += _sonority_rule(p, on, upper, lower, "voice_crossing", p[upper] < p[lower], name)
        if (upper, lower) in SPACED_PAIRS:
            found += _sonority_rule(p, on, upper, lower, "spacing", p[upper] - p[lower] > 12, name)
    for v, (low, high) in enumerate(RANGES):
        for t in np.flatnonzero(on[v] & ((p[v] < low) | (p[v] > high))):
            side = "below" if p[v, t] < low else "above"
            found.append(
                ("out_of_range", (v,), int(t),
                 f"{VOICE_LETTERS[v]} {name(p[v, t])} {side} {name(low)}-{name(high)}")
            )  # fmt: skip
    found.sort(key=lambda f: (f[2], KINDS.index(f[0]), f[1]))
    findings = [Finding(k, v, t, score.location_text(t), *rest) for k, v, t, *rest in found]
    return Report(findings, score.num_steps / STEPS_PER_QUARTER)


def _sonorities(p: np.ndarray, on: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps of the pair's sonorities, and for each the count of rests before it (to spot gaps)."""
    both = (p[a] >= 0) & (p[b] >= 0)
    steps = np.flatnonzero((on[a] | on[b]) & both)
    gaps = np.cumsum(~both)
    return steps, gaps[steps]


def _pair_text(a: int, b: int) -> str:
    return f"{VOICE_LETTERS[a]}-{VOICE_LETTERS[b]}"


def _sonority_rule(p, on, a, b, kind, broken: np.ndarray, name=note_name) -> list:
    steps, _ = _sonorities(p, on, a, b)
    return [
        (kind, (a, b), int(t),
         f"{_pair_text(a, b)} {name(p[a, t])}/{name(p[b, t])}")
        for t in steps[broken[steps]]
    ]  # fmt: skip


def _parallels(p, on, a, b, name=note_name) -> list:
    steps, gaps = _sonorities(p, on, a, b)
    if len(steps) < 2:
        return []
    first, second = steps[:-1], steps[1:]
    joined = gaps[:-1] == gaps[1:]
    moves = (p[a, first] != p[a, second]) & (p[b, first] != p[b, second])
    before = np.abs(p[a, first] - p[b, first]) % 12
    after = np.abs(p[a, second] - p[b, second]) % 12
    result = []
    for kind, size, word in (("parallel_fifths", 7, "fifths"), ("parallel_octaves", 0, "octaves")):
        hit = joined & moves & (before == size) & (after == size)
        for s, t in zip(first[hit], second[hit]):
            if size == 0 and p[a, s] == p[b, s] and p[a, t] == p[b, t]:
                word = "unisons"  # the same notes both times, not an octave apart
            elif size == 0:
                word = "octaves"
            text = (
                f"{_pair_text(a, b)} {word} {name(p[a, s])}/{name(p[b, s])}"
                f" -> {name(p[a, t])}/{name(p[b, t])}"
            )
            result.append((kind, (a, b), int(t), text, int(s)))
    return result
