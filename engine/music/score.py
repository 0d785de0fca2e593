"""`Score`: four voices on a grid of 16th notes, and pure operations on it.

Time is counted in steps (16th notes, 4 per quarter). Row 0 is the soprano, row 3 the bass.
`pitches[v, t]` is a MIDI pitch or -1 for silence; `onsets[v, t]` is True where a note is struck,
so a held note continues with False and repeated notes stay repeated.

Bars are numbered from 1. A score with a pickup of `p` steps has a bar 0 holding those steps,
and bar 1 starts at step `p`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from engine.errors import PitchRangeError, ScoreError

VOICE_NAMES = ("Soprano", "Alto", "Tenor", "Bass")
VOICE_LETTERS = "SATB"
NUM_VOICES = 4
STEPS_PER_QUARTER = 4
SILENCE = -1
MIDI_LOW, MIDI_HIGH = 0, 127
# Choir Aahs: a sound musicians expect for a chorale; each voice can be changed.
DEFAULT_PROGRAMS = (52, 52, 52, 52)
DEFAULT_TEMPO = 90.0
ALLOWED_DENOMINATORS = (1, 2, 4, 8, 16)


def parse_voices(text: str) -> tuple[int, ...]:
    """Voice letters such as "S,A" or "SATB" (case-insensitive) -> sorted voice indices."""
    words = [w for w in text.replace(",", " ").split() if w]
    named = [w for w in words if w.capitalize() in VOICE_NAMES]  # --voices alto,bass
    if named and len(named) == len(words):
        text = "".join(w[0] for w in named)
    elif any(len(w) > 1 and not set(w.upper()) <= set(VOICE_LETTERS) for w in words):
        bad = next(w for w in words if len(w) > 1 and not set(w.upper()) <= set(VOICE_LETTERS))
        raise ScoreError(
            f"unknown voice {bad!r}: use soprano, alto, tenor, bass or letters from S, A, T, B"
            " (e.g. S,A)"
        )
    letters = [c for c in text.upper() if c not in ", "]
    if not letters:
        raise ScoreError("no voices given: use letters from S, A, T, B (e.g. S,A)")
    bad = [c for c in letters if c not in VOICE_LETTERS]
    if bad:
        raise ScoreError(f"unknown voice {bad[0]!r}: use letters from S, A, T, B (e.g. S,A)")
    return tuple(sorted({VOICE_LETTERS.index(c) for c in letters}))


def onsets_from_pitches(pitches: np.ndarray) -> np.ndarray:
    """Onsets where a note starts: sounding and different from the step before."""
    sounding = pitches >= 0
    onsets = sounding.copy()
    if pitches.shape[1] > 1:
        onsets[:, 1:] &= pitches[:, 1:] != pitches[:, :-1]
    return onsets


@dataclass(eq=False)
class Score:
    """Four voices of MIDI pitches on a 16th-note grid, with their meter, tempo and sounds."""

    pitches: np.ndarray
    onsets: np.ndarray | None = None
    time_signature: tuple[int, int] = (4, 4)
    pickup: int = 0
    tempo_bpm: float = DEFAULT_TEMPO
    key: str | None = None
    programs: tuple[int, ...] = DEFAULT_PROGRAMS
    title: str = ""
    fermatas: np.ndarray | None = None
    """Bool (T,): True on steps under a fermata (a phrase end); None = not known."""

    def __post_init__(self) -> None:
        pitches = np.asarray(self.pitches)
        if pitches.ndim != 2 or pitches.shape[0] != NUM_VOICES:
            raise ScoreError(f"pitches must have shape (4, T); got {pitches.shape}")
        if pitches.size and not np.issubdtype(pitches.dtype, np.integer):
            raise ScoreError("pitches must be integers (MIDI numbers, -1 for silence)")
        if pitches.size and (pitches.min() < SILENCE or pitches.max() > MIDI_HIGH):
            raise PitchRangeError(
                f"pitches must be MIDI numbers in range {MIDI_LOW}..{MIDI_HIGH} or -1 for silence;"
                f" got {int(pitches.min())}..{int(pitches.max())}"
            )
        pitches = pitches.astype(np.int16, copy=True)
        if self.onsets is None:
            onsets = onsets_from_pitches(pitches)
        else:
            onsets = np.asarray(self.onsets, dtype=bool).copy()
            if onsets.shape != pitches.shape:
                raise ScoreError(f"onsets must have the shape of pitches {pitches.shape}")
            # A note must be struck where it starts; silence is never struck.
            onsets = (onsets | onsets_from_pitches(pitches)) & (pitches >= 0)
        num, den = self.time_signature
        if not (1 <= int(num) <= 32) or int(den) not in ALLOWED_DENOMINATORS:
            raise ScoreError(
                f"time signature must be N/D with N in 1..32 and D in {ALLOWED_DENOMINATORS};"
                f" got {num}/{den}"
            )
        self.time_signature = (int(num), int(den))
        if not (0 <= int(self.pickup) < self.steps_per_bar):
            raise ScoreError(
                f"pickup must be in range 0..{self.steps_per_bar - 1} steps for"
                f" {num}/{den}; got {self.pickup}"
            )
        self.pickup = int(self.pickup)
        if not (10.0 <= float(self.tempo_bpm) <= 400.0):
            raise ScoreError(f"tempo must be in range 10..400 BPM; got {self.tempo_bpm}")
        self.tempo_bpm = float(self.tempo_bpm)
        programs = tuple(int(p) for p in self.programs)
        if len(programs) != NUM_VOICES or any(not 0 <= p <= 127 for p in programs):
            raise ScoreError(f"programs must be four GM program numbers 0..127; got {programs}")
        self.programs = programs
        if self.fermatas is not None:
            fermatas = np.asarray(self.fermatas, dtype=bool).copy()
            if fermatas.shape != (pitches.shape[1],):
                raise ScoreError(f"fermatas must have shape ({pitches.shape[1]},); got {fermatas.shape}")
            fermatas.setflags(write=False)
            self.fermatas = fermatas
        pitches.setflags(write=False)
        onsets.setflags(write=False)
        self.pitches, self.onsets = pitches, onsets

    # --- construction -------------------------------------------------------------------

    @classmethod
    def empty(cls, steps: int, **meta) -> Score:
        """A silent score of `steps` 16th notes."""
        if steps < 0:
            raise ScoreError(f"length must be 0 or more steps; got {steps}")
        return cls(np.full((NUM_VOICES, steps), SILENCE, dtype=np.int16), **meta)

    def replace(self, **changes) -> Score:
        """A copy with some fields changed (onsets recomputed if only pitches change)."""
        if "pitches" in changes and "onsets" not in changes:
            changes["onsets"] = None
        if (
            "fermatas" not in changes and self.fermatas is not None and "pitches" in changes
            and np.shape(changes["pitches"])[-1] != self.num_steps
        ):
            changes["fermatas"] = None  # a new length: the caller says where the fermatas go
        return dataclasses.replace(self, **changes)

    def meta(self) -> dict:
        """Everything but the notes, as keyword arguments for a new Score."""
        return {
            "time_signature": self.time_signature,
            "pickup": self.pickup,
            "tempo_bpm": self.tempo_bpm,
            "key": self.key,
            "programs": self.programs,
            "title": self.title,
        }

    # --- measures -----------------------------------------------------------------------

    @property
    def num_steps(self) -> int:
        return int(self.pitches.shape[1])

    @property
    def steps_per_beat(self) -> int:
        """Steps in one beat of the meter's denominator (4 for quarters, 2 for eighths)."""
        return max(1, 16 // self.time_signature[1])

    @property
    def steps_per_bar(self) -> int:
        num, den = self.time_signature
        return max(1, num * 16 // den)

    @property
    def seconds_per_step(self) -> float:
        return 60.0 / self.tempo_bpm / STEPS_PER_QUARTER

    @property
    def num_bars(self) -> int:
        """Full or partial bars after the pickup (the pickup bar is not counted)."""
        body = max(0, self.num_steps - self.pickup)
        return -(-body // self.steps_per_bar)

    def bar_start(self, bar: int) -> int:
        """First step of `bar` (bar 0 is the pickup, bar 1 starts after it)."""
        if bar <= 0:
            return 0
        return self.pickup + (bar - 1) * self.steps_per_bar

    def bar_range(self, first: int, last: int) -> tuple[int, int]:
        """Steps [start, end) covering bars first..last inclusive, checked against the score."""
        lowest = 0 if self.pickup else 1
        if first > last or first < lowest or last > self.num_bars:
            raise ScoreError(
                f"bars must be in range {lowest}..{self.num_bars} with first <= last;"
                f" got {first}-{last}"
            )
        start = self.bar_start(first)
        end = min(self.num_steps, self.pickup if last == 0 else self.bar_start(last + 1))
        return start, end

    def location(self, step: int) -> tuple[int, float]:
        """(bar, beat) of a step; beats count from 1 and may be fractional (2.5 = an 8th after 2)."""
        if step < self.pickup:
            bar, within = 0, self.steps_per_bar - self.pickup + step
        else:
            bar, within = divmod(step - self.pickup, self.steps_per_bar)
            bar += 1
        return bar, 1 + within / self.steps_per_beat

    def location_text(self, step: int) -> str:
        bar, beat = self.location(step)
        return f"{bar}:{beat:g}"

    # --- pure operations ----------------------------------------------------------------

    def slice(self, start: int, end: int) -> Score:
        """Steps [start, end); a note cut at `start` is struck again there."""
        if not (0 <= start <= end <= self.num_steps):
            raise ScoreError(
                f"slice must satisfy 0 <= start <= end <= {self.num_steps}; got {start}..{end}"
            )
        pitches = self.pitches[:, start:end]
        onsets = self.onsets[:, start:end].copy()
        if end > start:
            onsets[:, 0] = pitches[:, 0] >= 0
        pickup = 0
        if start < self.pickup:
            pickup = self.pickup - start
        else:
            pickup = (self.steps_per_bar - (start - self.pickup) % self.steps_per_bar) % (
                self.steps_per_bar
            )
        # A slice shorter than its pickup keeps it: the steps stay where they were in the bar.
        fermatas = None if self.fermatas is None else self.fermatas[start:end]
        return self.replace(pitches=pitches, onsets=onsets, pickup=pickup, fermatas=fermatas)

    def slice_bars(self, first: int, last: int) -> Score:
        """Bars first..last inclusive."""
        return self.slice(*self.bar_range(first, last))

    def region_mask(self, start: int, end: int, voices=range(NUM_VOICES)) -> np.ndarray:
        """Bool (4, T) mask, True on steps [start, end) of the given voices."""
        if not (0 <= start <= end <= self.num_steps):
            raise ScoreError(
                f"region must satisfy 0 <= start <= end <= {self.num_steps}; got {start}..{end}"
            )
        mask = np.zeros(self.pitches.shape, dtype=bool)
        for v in voices:
            if not 0 <= v < NUM_VOICES:
                raise ScoreError(f"voice must be in range 0..3; got {v}")
            mask[v, start:end] = True
        return mask

    def erase(self, mask: np.ndarray) -> Score:
        """Silence the cells where `mask` is True; a note cut by the erased region restarts."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.pitches.shape:
            raise ScoreError(f"mask must have shape {self.pitches.shape}; got {mask.shape}")
        pitches = np.where(mask, SILENCE, self.pitches)
        onsets = self.onsets & ~mask
        # The note after an erased cell is struck anew.
        onsets[:, 1:] |= mask[:, :-1] & ~mask[:, 1:] & (pitches[:, 1:] >= 0)
        return self.replace(pitches=pitches, onsets=onsets)

    def with_cells(self, mask: np.ndarray, pitches: np.ndarray) -> Score:
        """Put `pitches` into the cells where `mask` is True; written notes merge where equal."""
        mask, pitches = np.asarray(mask, dtype=bool), np.asarray(pitches)
        for name, array in (("mask", mask), ("pitches", pitches)):
            if array.shape != self.pitches.shape:
                raise ScoreError(f"{name} must have shape {self.pitches.shape}; got {array.shape}")
        new = np.where(mask, pitches, self.pitches)
        merged = onsets_from_pitches(new)
        onsets = np.where(mask, merged, self.onsets)
        # A kept note right after a written cell restarts if the written pitch is different.
        onsets[:, 1:] |= mask[:, :-1] & ~mask[:, 1:] & merged[:, 1:]
        return self.replace(pitches=new, onsets=onsets)

    def transpose(
        self, semitones: int, voices=range(NUM_VOICES), low: int = MIDI_LOW, high: int = MIDI_HIGH
    ) -> Score:
        """Shift the given voices; raises PitchRangeError if any note would leave low..high."""
        pitches = self.pitches.astype(np.int32)
        for v in voices:
            row = pitches[v]
            sounding = row >= 0
            moved = row[sounding] + semitones
            if moved.size and (moved.min() < low or moved.max() > high):
                raise PitchRangeError(
                    f"transposing {VOICE_NAMES[v].lower()} by {semitones:+d} gives"
                    f" {int(moved.min())}..{int(moved.max())}; notes must stay in {low}..{high}"
                )
            row[sounding] = moved
        return self.replace(pitches=pitches, onsets=self.onsets)

    def merge_held_notes(self) -> Score:
        """Treat equal consecutive pitches as one held note (how model output becomes notes)."""
        return self.replace(pitches=self.pitches, onsets=onsets_from_pitches(self.pitches))

    def concat(self, other: Score) -> Score:
        """This score followed by `other` (meta data of this one)."""
        if not isinstance(other, Score):
            raise ScoreError("only a Score can be appended to a Score")
        pitches = np.concatenate([self.pitches, other.pitches], axis=1)
        onsets = np.concatenate([self.onsets, other.onsets], axis=1)
        if other.num_steps:
            onsets[:, self.num_steps] = other.pitches[:, 0] >= 0
        fermatas = None
        if self.fermatas is not None or other.fermatas is not None:
            fermatas = np.concatenate([self.phrase_ends(), other.phrase_ends()])
        return self.replace(pitches=pitches, onsets=onsets, fermatas=fermatas)

    __add__ = concat

    def notes(self, voice: int) -> list[tuple[int, int, int]]:
        """(start step, length in steps, pitch) of every note in a voice."""
        row, on = self.pitches[voice], self.onsets[voice]
        starts = np.flatnonzero(on)
        result = []
        for i, s in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else self.num_steps
            held = np.flatnonzero(row[s:end] != row[s])
            length = int(held[0]) if held.size else int(end - s)
            result.append((int(s), length, int(row[s])))
        return result

    def note_span(self, voice: int, step: int) -> tuple[int, int]:
        """[start, end) steps of the note of `voice` sounding at `step` (the step alone if silent)."""
        row, on = self.pitches[voice], self.onsets[voice]
        if row[step] < 0:
            return step, step + 1
        start = step
        while start > 0 and not on[start] and row[start - 1] == row[step]:
            start -= 1
        end = step + 1
        while end < len(row) and not on[end] and row[end] == row[step]:
            end += 1
        return start, end

    def pitch_range(self, voice: int) -> tuple[int, int] | None:
        sounding = self.pitches[voice][self.pitches[voice] >= 0]
        if not sounding.size:
            return None
        return int(sounding.min()), int(sounding.max())

    # --- comparison ---------------------------------------------------------------------

    def same_notes(self, other: Score) -> bool:
        """Equal pitches and onsets, ignoring meta data."""
        return np.array_equal(self.pitches, other.pitches) and np.array_equal(
            self.onsets, other.onsets
        )

    def phrase_ends(self) -> np.ndarray:
        """Bool (T,) fermata marks; all False when none are known."""
        if self.fermatas is None:
            return np.zeros(self.num_steps, dtype=bool)
        return self.fermatas

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Score):
            return NotImplemented
        same_fermatas = (self.fermatas is None) == (other.fermatas is None) and (
            self.fermatas is None or np.array_equal(self.fermatas, other.fermatas))
        return self.same_notes(other) and self.meta() == other.meta() and same_fermatas

    __hash__ = None  # mutable meta fields: not hashable
