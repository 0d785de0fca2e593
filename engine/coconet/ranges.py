"""Placing kept notes in the model's range (MIDI 36..81) and back, for the Composer.

Kept notes outside the range are moved by whole octaves into it before sampling and everything is
moved back afterwards. When every kept voice fits with one common shift, the whole texture moves
with it; otherwise each kept voice gets its own shift. A melody that never reaches the soprano's
range (a cello tune) moves the texture up the same way. A voice the model wrote whole moves back
only when that suits its own range. A voice wider than the range: PitchRangeError.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.errors import PitchRangeError
from engine.music.counterpoint import RANGES
from engine.music.pianoroll import MODEL_HIGH, MODEL_LOW, to_classes, to_pitches
from engine.music.score import NUM_VOICES, VOICE_NAMES, Score


def _octaves_text(semitones: int) -> str:
    octaves = abs(semitones) // 12
    amount = "an octave" if octaves == 1 else f"{octaves} octaves"
    return f"{'down' if semitones < 0 else 'up'} {amount}"


def _names(voices: Sequence[int]) -> str:
    names = [VOICE_NAMES[v].lower() for v in voices]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _octave_shift(low: int, high: int) -> int | None:
    """Smallest octave shift (semitones) moving low..high inside the model range, or None."""
    fits = [12 * k for k in range(-11, 12) if low + 12 * k >= MODEL_LOW and high + 12 * k <= MODEL_HIGH]
    return min(fits, key=abs) if fits else None


def place_in_range(score: Score, mask: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Per-voice semitone offsets that bring the kept notes into 36..81, and messages saying so."""
    kept = (~mask) & (score.pitches >= 0)
    spans = {}
    for v in range(NUM_VOICES):
        notes = score.pitches[v][kept[v]]
        if notes.size:
            spans[v] = (int(notes.min()), int(notes.max()))
    offsets = np.zeros(NUM_VOICES, dtype=np.int32)
    outside = [v for v, (lo, hi) in spans.items() if lo < MODEL_LOW or hi > MODEL_HIGH]
    if not outside:
        return _below_the_soprano_range(spans, offsets)
    for v in outside:
        lo, hi = spans[v]
        if hi - lo > MODEL_HIGH - MODEL_LOW:
            raise PitchRangeError(
                f"the {VOICE_NAMES[v].lower()} spans {lo}..{hi} ({hi - lo} semitones), wider than"
                f" the model's range {MODEL_LOW}..{MODEL_HIGH}: split it or move its extreme notes"
            )
    common = _octave_shift(min(lo for lo, _ in spans.values()), max(hi for _, hi in spans.values()))
    if common is not None:
        offsets[:] = common
        message = (
            f"{_names(outside)} shifted {_octaves_text(common)} into the model's range"
            f" {MODEL_LOW}..{MODEL_HIGH} and shifted back; each written voice is placed in"
            " the octave nearer its own range"
        )
        return offsets, [message]
    messages = []
    for v in outside:
        shift = _octave_shift(*spans[v])
        if shift is None:
            lo, hi = spans[v]
            raise PitchRangeError(
                f"the {VOICE_NAMES[v].lower()} ({lo}..{hi}) cannot be moved by octaves into the"
                f" model's range {MODEL_LOW}..{MODEL_HIGH}: transpose the piece a few semitones"
            )
        offsets[v] = shift
        messages.append(
            f"{VOICE_NAMES[v].lower()} shifted {_octaves_text(shift)} into the model's range"
            f" {MODEL_LOW}..{MODEL_HIGH} and shifted back afterwards"
        )
    return offsets, messages


def _below_the_soprano_range(spans: dict, offsets: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A kept melody that never reaches the soprano's range (a cello tune, B2-A3) would have the
    model write the other voices below it, out of their ranges, with the bass jumping above it:
    the texture moves up by octaves until the melody's top reaches the soprano's range, and back
    afterwards (each written voice in the octave nearer its own range)."""
    if set(spans) != {0} or spans[0][1] >= RANGES[0][0]:  # a melody alone, kept below C4
        return offsets, []
    low = min(lo for lo, _ in spans.values())
    high = max(hi for _, hi in spans.values())
    shift = 12 * -(-(RANGES[0][0] - spans[0][1]) // 12)
    if high + shift > MODEL_HIGH or low + shift < MODEL_LOW:
        return offsets, []
    offsets[:] = shift
    lo, hi = spans[0]
    return offsets, [
        (f"the soprano ({lo}..{hi}) lies below its range: harmonized {_octaves_text(shift)} and"
        " shifted back; each written voice is placed in the octave nearer its own range")
    ]


def _fold(pitches: np.ndarray, low: int, high: int) -> np.ndarray:
    """Move sounding pitches by octaves until they lie in low..high (high - low >= 11)."""
    p = pitches.astype(np.int32)
    sounding = p >= 0
    below = sounding & (p < low)
    p[below] += 12 * ((low - p[below] + 11) // 12)
    above = sounding & (p > high)
    p[above] -= 12 * ((p[above] - high + 11) // 12)
    return p


def _model_input(score: Score, mask: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Class indices (4, T) with the offsets applied; masked cells folded into range (for polish)."""
    p = score.pitches.astype(np.int32)
    p = np.where(p >= 0, p + offsets[:, None], -1)
    p = np.where(mask, _fold(p, MODEL_LOW, MODEL_HIGH), p)
    return to_classes(p)


def outside_range(pitches: np.ndarray, voice: int) -> tuple[int, int]:
    """(notes outside `voice`'s range, semitones outside summed over them): lower is better, so
    of two octaves the one with more notes in range wins, and of two that fit equally badly (a
    melody at A0-G1) the nearer one."""
    low, high = RANGES[voice]
    p = np.asarray(pitches, dtype=np.int64)
    below, above = np.maximum(low - p, 0), np.maximum(p - high, 0)
    return int(np.count_nonzero(below + above)), int(below.sum() + above.sum())


def _user_pitches(classes: np.ndarray, offsets: np.ndarray, original: np.ndarray, mask: np.ndarray):
    """(N, 4, T) model classes -> MIDI pitches in the user's octaves; kept cells from `original`.

    A voice the model wrote whole goes back with the kept voices only if that suits its own range
    (engine.music.counterpoint.RANGES) at least as well: a melody at D6-A6 keeps a tenor in C3-G4,
    and under a melody at A0-G1 no voice goes down to MIDI 13 (`outside_range`).
    """
    model = to_pitches(classes).astype(np.int32)
    p = np.where(model >= 0, model - offsets[None, :, None], -1)
    for v in range(NUM_VOICES):
        if offsets[v] == 0 or not mask[v].all():
            continue  # a voice with kept notes must meet them in their octave
        for n in range(p.shape[0]):
            back, here = p[n, v][p[n, v] >= 0], model[n, v][model[n, v] >= 0]
            if outside_range(here, v) < outside_range(back, v):
                p[n, v] = model[n, v]
    p = _fold(p, 0, 127)
    return np.where(mask, p, original).astype(np.int16)
