"""Fermatas (phrase ends) in MIDI files: the markers cantor writes and reads back.

A marker "fermata" stands at the tick where a marked span starts and "fermata end" at the tick
after its last step, both on the conductor track. A marker "fermatas: none" at tick 0 says the
score has no fermatas on purpose (an empty set, not an unknown one). Reading accepts marker or
text events on any track, in any case; a "fermata" with no "fermata end" after it (as other
programs write it) covers the notes sounding where it stands, to the end of the longest.
"""

from __future__ import annotations

import numpy as np

FERMATA_MARKER = "fermata"
FERMATA_END_MARKER = "fermata end"
NO_FERMATAS_MARKER = "fermatas: none"
FERMATA_TEXTS = (FERMATA_MARKER, FERMATA_END_MARKER, NO_FERMATAS_MARKER)


def fermata_text(text: str) -> str | None:
    """The fermata marker a text or marker event holds, normalised; None for any other text."""
    text = text.strip().lower()
    return text if text in FERMATA_TEXTS else None


def fermata_markers(fermatas: np.ndarray | None, ticks_per_step: int) -> list:
    """Marker messages whose `time` is an absolute tick, for a score's fermata steps."""
    import mido

    if fermatas is None:
        return []
    if not fermatas.any():
        return [mido.MetaMessage("marker", text=NO_FERMATAS_MARKER, time=0)]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], fermatas.astype(np.int8), [0]])))
    markers = []
    for start, end in zip(edges[::2].tolist(), edges[1::2].tolist()):
        markers.append(mido.MetaMessage("marker", text=FERMATA_MARKER, time=start * ticks_per_step))
        markers.append(mido.MetaMessage("marker", text=FERMATA_END_MARKER, time=end * ticks_per_step))
    return markers


def fermatas_from_marks(marks: list[tuple[int, str]], pitches: np.ndarray, onsets: np.ndarray):
    """Bool (T,) fermata steps from (step, marker text) pairs; None when there are none."""
    if not marks:
        return None
    length = pitches.shape[1]
    result = np.zeros(length, dtype=bool)
    marks = sorted(marks, key=lambda m: m[0])  # stable: a start and an end at one step keep order
    for k, (start, text) in enumerate(marks):
        if text != FERMATA_MARKER or start >= length:
            continue
        following = next((m for m in marks[k + 1 :] if m[1] != NO_FERMATAS_MARKER), None)
        if following is not None and following[1] == FERMATA_END_MARKER:
            end = min(following[0], length)
        else:
            end = end_of_notes_at(pitches, onsets, start)
        result[start : max(end, start + 1)] = True
    return result


def end_of_notes_at(pitches: np.ndarray, onsets: np.ndarray, step: int) -> int:
    """The step after the longest note sounding at `step` (step + 1 when nothing sounds)."""
    end = step + 1
    for row, on in zip(pitches, onsets):
        if row[step] < 0:
            continue
        k = step + 1
        while k < row.size and row[k] == row[step] and not on[k]:
            k += 1
        end = max(end, k)
    return end
