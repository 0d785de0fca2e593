"""Trio data from multi-track MIDI, as MusicVAE's trio converter takes it: melody, bass, drums.

- melody: an instrument with GM program 0-31 (pianos, chromatic percussion, organs, guitars),
  reduced to one line by keeping the highest sounding note at each step;
- bass: an instrument with program 32-39, reduced to its lowest note at each step;
- drums: every note on MIDI channel 10, each pitch reduced to one of 9 drum classes, and the hits
  of a step stored as a 9-bit pattern (512 classes, 0 = no hit), as MusicVAE's reduced drum set.
Every melody instrument of a file gives one trio with the file's bass and drums (MusicVAE takes
all combinations too). Time is quantised to 16th notes from the file's ticks per beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import MidiFileError

MELODY_PROGRAMS = range(32)
BASS_PROGRAMS = range(32, 40)
DRUM_CHANNEL = 9  # channel 10 counted from 1
TRIO_LOW, TRIO_HIGH = 21, 108  # piano range for the melody and the bass
MIN_NOTES = 4  # an instrument with fewer notes is not a line
MAX_TRIOS_PER_FILE = 4
MAX_STEPS = 16 * 4 * 512  # 512 bars of 4/4: longer files are cut

# The 9 drum classes and the GM drum pitches reduced to each (first = the one written back).
DRUM_CLASSES = (
    ("kick", (36, 35)),
    ("snare", (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85)),
    ("closed hi-hat", (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22)),
    ("open hi-hat", (46, 67, 72, 74, 79, 81, 26)),
    ("low tom", (45, 29, 41, 43, 61, 64, 84)),
    ("mid tom", (48, 47, 60, 63, 77, 86, 87)),
    ("high tom", (50, 30, 62, 76, 83)),
    ("crash", (49, 52, 55, 57, 58)),
    ("ride", (51, 53, 59, 82)),
)
_DRUM_OF_PITCH = {p: i for i, (_, pitches) in enumerate(DRUM_CLASSES) for p in pitches}
NUM_DRUM_PATTERNS = 1 << len(DRUM_CLASSES)  # 512

TRIO_TRACKS = {
    "track_names": ("melody", "bass", "drums"),
    "track_classes": (TRIO_HIGH - TRIO_LOW + 2, TRIO_HIGH - TRIO_LOW + 2, NUM_DRUM_PATTERNS),
    "track_low": (TRIO_LOW, TRIO_LOW, -1),
}


def drum_class(pitch: int) -> int | None:
    """Index (0..8) of the drum class of a GM drum pitch, None for pitches outside the set."""
    return _DRUM_OF_PITCH.get(int(pitch))


def drum_pitches(pattern: int) -> list[int]:
    """The GM pitches to write for a 9-bit drum pattern."""
    return [DRUM_CLASSES[i][1][0] for i in range(len(DRUM_CLASSES)) if pattern >> i & 1]


@dataclass
class Trio:
    """One melody, bass and drum line on the 16th grid: pitches (-1 silence), drum patterns."""

    melody: np.ndarray
    bass: np.ndarray
    drums: np.ndarray
    source: str = ""

    @property
    def num_steps(self) -> int:
        return len(self.melody)

    def classes(self) -> np.ndarray:
        """(3, T) int64 class indices in the layout of TRIO_TRACKS."""
        silence = TRIO_HIGH - TRIO_LOW + 1

        def line(pitches):
            folded = fold_into_range(pitches)
            return np.where(folded >= 0, folded.astype(np.int64) - TRIO_LOW, silence)

        return np.stack([line(self.melody), line(self.bass), self.drums.astype(np.int64)])


def fold_into_range(pitches: np.ndarray) -> np.ndarray:
    """Move notes outside TRIO_LOW..TRIO_HIGH by octaves into it (keeps -1 as silence)."""
    out = pitches.astype(np.int64).copy()
    sounding = out >= 0
    while (sounding & (out < TRIO_LOW)).any():
        out[sounding & (out < TRIO_LOW)] += 12
    while (out > TRIO_HIGH).any():
        out[out > TRIO_HIGH] -= 12
    return out


def _read_notes(path: Path):
    """(notes, steps): notes as (start step, end step, pitch, channel, program, instrument id)."""
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise MidiFileError(f"{path.name}: not a readable MIDI file ({exc})"[:200]) from None
    tpq = midi.ticks_per_beat or 480
    notes, open_notes, end = [], {}, 0
    for track_index, track in enumerate(midi.tracks):
        tick, programs = 0, {}
        for msg in track:
            tick += msg.time
            if msg.type == "program_change":
                programs[msg.channel] = msg.program
            elif msg.type in ("note_on", "note_off"):
                key = (track_index, msg.channel, msg.note)
                step = round(tick * 4 / tpq)
                if msg.type == "note_on" and msg.velocity > 0:
                    open_notes[key] = (step, programs.get(msg.channel, 0))
                elif key in open_notes:
                    start, program = open_notes.pop(key)
                    stop = max(step, start + 1)
                    notes.append((start, stop, msg.note, msg.channel, program, (track_index, msg.channel, program)))
                    end = max(end, stop)
    return notes, min(end, MAX_STEPS)


def _line(notes, steps: int, highest: bool) -> np.ndarray:
    """One voice: the highest (or lowest) sounding pitch at each step, -1 where none sounds."""
    row = np.full(steps, -1, dtype=np.int64)
    for start, stop, pitch, *_ in notes:
        span = row[start:min(stop, steps)]
        if highest:
            np.maximum(span, pitch, out=span)
        else:
            span[(span < 0) | (span > pitch)] = pitch
    return row.astype(np.int16)


def _drums(notes, steps: int) -> np.ndarray:
    row = np.zeros(steps, dtype=np.int16)
    for start, _, pitch, *_ in notes:
        cls = drum_class(pitch)
        if cls is not None and start < steps:
            row[start] |= 1 << cls
    return row


def extract_trios(path) -> list[Trio]:
    """Every (melody instrument, bass, drums) trio of a MIDI file; empty if a part is missing."""
    path = Path(path)
    notes, steps = _read_notes(path)
    drums = [n for n in notes if n[3] == DRUM_CHANNEL]
    pitched = [n for n in notes if n[3] != DRUM_CHANNEL]
    by_instrument: dict = {}
    for n in pitched:
        by_instrument.setdefault(n[5], []).append(n)
    melodies = [ns for (_, _, prog), ns in by_instrument.items()
                if prog in MELODY_PROGRAMS and len(ns) >= MIN_NOTES]
    basses = [ns for (_, _, prog), ns in by_instrument.items()
              if prog in BASS_PROGRAMS and len(ns) >= MIN_NOTES]
    drum_row = _drums(drums, steps)
    if not melodies or not basses or np.count_nonzero(drum_row) < MIN_NOTES:
        return []
    bass = _line(max(basses, key=len), steps, highest=False)
    melodies.sort(key=len, reverse=True)
    return [Trio(_line(m, steps, highest=True), bass, drum_row, path.name)
            for m in melodies[:MAX_TRIOS_PER_FILE]]


def midi_files(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise MidiFileError(f"{folder} is not a folder of MIDI files")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file())


def trio_midi(trio: Trio, tempo_bpm: float = 120.0, programs=(0, 33)):
    """A mido MidiFile of a trio: melody (channel 1), bass (channel 2), drums (channel 10)."""
    import mido

    tpq = 96
    step_ticks = tpq // 4
    midi = mido.MidiFile(type=1, ticks_per_beat=tpq)
    meta = [(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))]
    tracks = [meta]
    for channel, row, program in ((0, trio.melody, programs[0]), (1, trio.bass, programs[1])):
        events = [(0, mido.Message("program_change", channel=channel, program=program, time=0))]
        t = 0
        while t < len(row):
            if row[t] < 0:
                t += 1
                continue
            end = t + 1
            while end < len(row) and row[end] == row[t]:
                end += 1
            events.append((t * step_ticks, mido.Message("note_on", channel=channel, note=int(row[t]), velocity=90)))
            events.append((end * step_ticks - 1, mido.Message("note_off", channel=channel, note=int(row[t]), velocity=0)))
            t = end
        tracks.append(events)
    drums = []
    for t, pattern in enumerate(trio.drums):
        for pitch in drum_pitches(int(pattern)):
            drums.append((t * step_ticks, mido.Message("note_on", channel=DRUM_CHANNEL, note=pitch, velocity=90)))
            drums.append((t * step_ticks + step_ticks // 2,
                          mido.Message("note_off", channel=DRUM_CHANNEL, note=pitch, velocity=0)))
    tracks.append(drums)
    for events in tracks:
        track, now = mido.MidiTrack(), 0
        for tick, msg in sorted(events, key=lambda e: (e[0], e[1].type == "note_on")):
            track.append(msg.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    return midi


def save_trio_midi(trio: Trio, path, tempo_bpm: float = 120.0):
    """Write a trio as a type-1 MIDI file, atomically."""
    from engine.fileio import atomic_output

    with atomic_output(path, "MIDI file") as tmp:
        trio_midi(trio, tempo_bpm).save(str(tmp))
    return Path(path)
