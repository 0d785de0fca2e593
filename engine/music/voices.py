"""Separating the notes of a MIDI file into four voices (used by `engine.music.midi` when loading).

Notes are grouped in "lines", one per (track, channel). Voices are made by these rules:
- every line carries a voice name (Soprano/Alto/Tenor/Bass, or S/A/T/B) and is monophonic: by name;
- one to four monophonic lines: one -> soprano; two -> soprano, bass; three -> soprano, alto, bass;
  four -> by mean pitch, highest first (so an SATB file in any track order comes out right);
- anything else: all notes pooled and split by pitch order at every 16th: of the notes sounding
  (equal pitches counted once, the latest struck), one goes to the soprano at or above middle C
  (60), else to the bass; two -> soprano, bass; three -> soprano, bass, and the middle one to the
  alto at or above middle C, else the tenor; four or more -> the two highest to soprano and alto,
  the two lowest to tenor and bass, the others are dropped there. A note that changes voice is
  struck again where it moves.
A line is monophonic when no two of its notes start on the same 16th and no note sounds past the
start of the note after next (a short legato overlap is cut where the next note starts). Voices are
assigned this way regardless of SATB ranges.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from engine.music.score import NUM_VOICES

_VOICE_PREFIXES = {"s": 0, "sop": 0, "a": 1, "alt": 1, "t": 2, "ten": 2, "b": 3, "bas": 3}


@dataclass
class Note:
    start: int  # ticks, then steps after quantizing
    end: int
    pitch: int
    line: tuple[int, int]  # (track, channel)
    ticks: tuple[int, int] = (0, 0)  # (start, end) in ticks, kept when quantizing


def voice_for_name(name: str) -> int | None:
    """The voice a track name stands for ("Soprano", "alto 1", "B"), or None."""
    word = name.strip().lower().split(" ")[0] if name.strip() else ""
    if word in _VOICE_PREFIXES:
        return _VOICE_PREFIXES[word]
    for prefix in ("sop", "alt", "ten", "bas"):
        if word.startswith(prefix):
            return _VOICE_PREFIXES[prefix]
    return None


def assign_voices(notes, length, names, changes) -> tuple[np.ndarray, list, str, int]:
    """(note index per voice and step, line of each voice or None, source text, notes dropped)."""
    index = {id(n): i for i, n in enumerate(notes)}
    lines = _lines(notes)
    mono = {line: _monophonic(ns) for line, ns in lines.items()}
    ids = np.full((NUM_VOICES, length), -1, dtype=np.int32)
    if not lines:
        return ids, [None] * NUM_VOICES, "no notes", 0
    if all(m is not None for m in mono.values()):
        voice_of = _voices_of_lines(lines, names)
        if voice_of is not None:
            cut = sum(m for m in mono.values())
            if cut:
                changes.append(f"{plural(cut, 'overlapping note')} cut where the next note starts")
            voice_lines = [None] * NUM_VOICES
            swallowed = 0
            for line, v in voice_of.items():
                voice_lines[v] = line
                ns = lines[line]
                for k, n in enumerate(ns):
                    # Each note lasts until the next one starts; one that ends up with no 16th
                    # (a very short note quantized onto the next one's step) is dropped.
                    end = min(n.end, ns[k + 1].start) if k + 1 < len(ns) else n.end
                    ids[v, n.start : end] = index[id(n)]
                    swallowed += end <= n.start
            if swallowed:
                changes.append(f"{plural(swallowed, 'note')} too short for the 16th grid dropped")
            source = plural(len(lines), "melodic line")
            if len(lines) == 1:
                source = "one-line melody"
            elif all(voice_for_name(names.get(ln[0], "")) == v for ln, v in voice_of.items()):
                source = plural(len(lines), "named voice track")
            return ids, voice_lines, source, swallowed
    dropped = _separate_by_pitch(notes, ids)
    changes.append("notes separated into voices by pitch order")
    if dropped:
        changes.append(f"{plural(dropped, 'note')} dropped (more than four at once, or doubled)")
    source = f"{plural(len(lines), 'line')} with chords or more than four lines"
    if len(lines) <= NUM_VOICES:
        source = f"{plural(len(lines), 'line')} with chords"
    return ids, _main_lines(ids, notes), source, dropped


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _lines(notes: list[Note]) -> dict[tuple[int, int], list[Note]]:
    """Notes grouped by (track, channel) in file order, each sorted by its start in the file."""
    lines: dict[tuple[int, int], list[Note]] = {}
    for n in sorted(notes, key=lambda n: (n.line, n.ticks[0], -n.pitch)):
        lines.setdefault(n.line, []).append(n)
    return lines


def _monophonic(notes: list[Note]) -> int | None:
    """How many notes overlap the next one (to be cut), or None if the line is polyphonic.

    Judged on the file's own ticks, so notes shorter than a 16th do not make a line polyphonic."""
    cut = 0
    for k in range(len(notes) - 1):
        (start, end), following = notes[k].ticks, notes[k + 1].ticks[0]
        if following == start:
            return None
        if k + 2 < len(notes) and end > notes[k + 2].ticks[0]:
            return None
        cut += end > following and notes[k].end > notes[k + 1].start
    return cut


def _voices_of_lines(lines: dict, names: dict) -> dict | None:
    """Voice of each monophonic line by name, else by count and mean pitch; None if > 4."""
    by_name = {line: voice_for_name(names.get(line[0], "")) for line in lines}
    voices = list(by_name.values())
    if None not in voices and len(set(voices)) == len(voices):
        return by_name
    if len(lines) > NUM_VOICES:
        return None
    ranked = sorted(lines, key=lambda line: -np.mean([n.pitch for n in lines[line]]))
    slots = {1: [0], 2: [0, 3], 3: [0, 1, 3], 4: [0, 1, 2, 3]}[len(ranked)]
    return dict(zip(ranked, slots))


def _separate_by_pitch(notes: list[Note], ids: np.ndarray) -> int:
    """Fill `ids` by the pitch-order rule; return how many notes got no cell at all.

    A sweep over note starts and ends: the voices only change where a note starts or ends, so
    each stretch between two such steps is decided once and filled as a slice. Per pitch, a heap
    holds the sounding notes, latest struck on top (ties: the first in the file), so the work
    grows with the number of notes (times 128 pitches at most), never with notes x length."""
    length = ids.shape[1]
    starts: dict[int, list[int]] = {}
    for i, n in enumerate(notes):
        if n.start < length:
            starts.setdefault(n.start, []).append(i)
    times = sorted({t for n in notes for t in (n.start, n.end) if 0 <= t < length} | {0})
    heaps: dict[int, list[tuple[int, int]]] = {}  # pitch -> heap of (-start, index)
    for a, b in zip(times, [*times[1:], length]):
        for i in starts.get(a, ()):
            heapq.heappush(heaps.setdefault(notes[i].pitch, []), (-notes[i].start, i))
        order = []
        for pitch in sorted(heaps, reverse=True):
            heap = heaps[pitch]
            while heap and notes[heap[0][1]].end <= a:  # ended: drop it now it is on top
                heapq.heappop(heap)
            if heap:
                order.append(heap[0][1])
            else:
                del heaps[pitch]
        _place(order, notes, ids, a, b)
    used = np.zeros(len(notes) + 1, dtype=bool)
    used[ids.ravel()] = True  # -1 lands on the spare last entry
    return int(len(notes) - used[:-1].sum())


def _place(order: list[int], notes: list[Note], ids: np.ndarray, a: int, b: int) -> None:
    """Steps [a, b) of `ids` for the notes sounding there, highest pitch first."""
    k = len(order)
    if k == 1:
        ids[0 if notes[order[0]].pitch >= 60 else 3, a:b] = order[0]
    elif k == 2:
        ids[0, a:b], ids[3, a:b] = order
    elif k == 3:
        ids[0, a:b], ids[3, a:b] = order[0], order[2]
        ids[1 if notes[order[1]].pitch >= 60 else 2, a:b] = order[1]
    elif k > 3:
        for v, i in enumerate((order[0], order[1], order[-2], order[-1])):
            ids[v, a:b] = i


def _main_lines(ids: np.ndarray, notes: list[Note]) -> list:
    """For each voice, the line most of its cells came from (for its program), or None."""
    codes: dict[tuple[int, int], int] = {}
    line_of_note = np.array([codes.setdefault(n.line, len(codes)) for n in notes], dtype=np.int64)
    lines = list(codes)
    result = []
    for row in ids:
        cells = row[row >= 0]
        if not cells.size:
            result.append(None)
            continue
        result.append(lines[int(np.argmax(np.bincount(line_of_note[cells])))])
    return result


def grid_to_arrays(ids: np.ndarray, notes: list[Note]) -> tuple[np.ndarray, np.ndarray]:
    """(pitches, onsets) from a (4, T) grid of note indices (-1 = silence)."""
    pitch_of = np.array([n.pitch for n in notes] + [-1], dtype=np.int16)
    pitches = pitch_of[ids]  # index -1 picks the trailing silence entry
    onsets = ids >= 0
    onsets[:, 1:] &= ids[:, 1:] != ids[:, :-1]
    return pitches, onsets
