"""MIDI files in and out: `save_midi`, `load_midi`, `load_midi_report`.

Ticks live only here, in `engine/music/midi_write.py` (writing) and `engine/music/voices.py` (voice
separation); a `Score` counts 16th-note steps.

Saving writes a type-1 file at 480 ticks per quarter (a 16th = 120 ticks): a conductor track (title,
the text "cantor score", time signature, key signature, tempo) and four tracks Soprano, Alto, Tenor,
Bass on channels 0-3, each with its program change. A pickup of p steps is written as a bar of its
own meter (p/16 reduced, e.g. 1/4 for a quarter) at tick 0, followed by the score's meter at the bar
line; when that is impossible (numerator > 255) a marker "cantor pickup p" carries it instead.

Loading reads the notes of every track and channel (channel 10 drums are ignored), a "line" per
(track, channel), quantizes them to 16ths, and makes four voices by the rules in
`engine/music/voices.py` (by track name; one to four melodic lines by count and pitch; anything else
split by pitch order at every 16th).
Meter: the first time signature; a first bar of another meter, exactly one bar long and shorter than
the next meter's bar, is a pickup. A file that marks no pickup this way (and is not cantor's own)
gets the pickup its music suggests by the rule in `engine/music/pickup.py`, reported as "pickup of
N beats inferred from the music", or none when the evidence is not clear or the meter changes;
`infer_pickup=False` turns the guess off. Tempo and key: the first ones; later changes are reported
and ignored.
Length: a cantor file keeps its length (trailing silence included); other files end with their
last note.
Fermatas: markers "fermata" / "fermata end" (see `engine/music/midi_fermatas.py`); a file without
them leaves the fermatas unknown.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import CantorError, MidiFileError
from engine.fileio import (  # noqa: F401 (atomic_output re-exported)
    atomic_output,
    os_reason,
    read_limited,
)
from engine.music.midi_fermatas import fermata_text, fermatas_from_marks
from engine.music.midi_repair import parse_tolerant
from engine.music.midi_scan import MAX_EVENTS, count_events
from engine.music.midi_write import (  # noqa: F401 (re-exported: the public MIDI API lives here)
    PICKUP_MARKER,
    SIGNATURE,
    TICKS_PER_QUARTER,
    TICKS_PER_STEP,
    midi_bytes,
    midi_key_name,
    save_midi,
)
from engine.music.pickup import infer_pickup as pickup_from_music
from engine.music.score import (
    ALLOWED_DENOMINATORS,
    DEFAULT_PROGRAMS,
    NUM_VOICES,
    Score,
)
from engine.music.voices import Note, assign_voices, grid_to_arrays, plural, voice_for_name

# Far above any four-part piece (a chorale is ~5 KB); parsing stays within seconds.
MAX_FILE_BYTES = 1024 * 1024
MAX_STEPS = 64_000  # 4,000 bars of 4/4: far beyond any piece, small enough to hold in memory
DRUM_CHANNEL = 9


@dataclass
class LoadReport:
    """What the loader made of a file: where the notes came from and what it had to change."""

    source: str
    changes: list[str] = field(default_factory=list)
    notes_read: int = 0
    notes_dropped: int = 0
    max_quantize_shift_steps: float = 0.0

    def summary(self) -> str:
        if not self.changes:
            return f"{self.source}; read exactly"
        return f"{self.source}; " + "; ".join(self.changes)


def _from_latin1(text: str) -> str:
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


# --- loading ------------------------------------------------------------------------------


def load_midi(path, *, infer_pickup: bool = True) -> Score:
    """Read a MIDI file into a Score; raises MidiFileError with a one-line reason.

    `infer_pickup=False` reads a file that marks no pickup without guessing one."""
    return load_midi_report(path, infer_pickup=infer_pickup)[0]


def load_midi_report(path, *, infer_pickup: bool = True) -> tuple[Score, LoadReport]:
    """Read a MIDI file into a Score, with a report of what the loader changed."""
    path = Path(path)
    try:
        if path.is_dir():
            raise MidiFileError(f"{path} is a folder, not a MIDI file")
        data = read_limited(path, MAX_FILE_BYTES)  # a device or FIFO has no size to check first
        if data[:4] != b"MThd" and data:  # a WAV or a text file: say what it is not, not its size
            raise MidiFileError(f"{path}: not a MIDI file (it does not start with an MThd header)")
        if len(data) > MAX_FILE_BYTES:
            raise MidiFileError(f"{path} is {_size_text(path)}; cantor reads MIDI files up to"
                                f" {MAX_FILE_BYTES // 2**20} MB")
    except FileNotFoundError:
        raise MidiFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise MidiFileError(f"cannot read {path}: {os_reason(exc)}") from None
    try:
        return parse_midi(data, infer_pickup=infer_pickup)
    except MidiFileError as exc:
        raise MidiFileError(f"{path}: {exc}") from None


def _size_text(path: Path) -> str:
    """"1.27 MB" for a regular file; "larger than 1 MB" for one whose size is unknown."""
    with contextlib.suppress(OSError):
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return f"{size / 2**20:.2f} MB"
    return f"larger than {MAX_FILE_BYTES // 2**20} MB"


def parse_midi(data: bytes, *, infer_pickup: bool = True) -> tuple[Score, LoadReport]:
    """A Score and a LoadReport from the bytes of a MIDI file; raises MidiFileError."""
    tpq = _check_header(data)
    if count_events(data) > MAX_EVENTS:  # counted without parsing: refused at once
        raise MidiFileError(f"the file holds more than {MAX_EVENTS:,} MIDI events; cantor reads"
                            f" files of up to {MAX_EVENTS:,}")
    midi, repairs = _mido_parse(data)
    try:
        score, report = _read(midi, tpq, infer_pickup)
        report.changes[:0] = repairs
        return score, report
    except CantorError as exc:
        raise MidiFileError(str(exc)) from None


def _check_header(data: bytes) -> int:
    """Ticks per quarter from the header chunk; raises for what mido would misread."""
    if data[:4] != b"MThd":
        raise MidiFileError("not a MIDI file (it does not start with an MThd header)")
    if len(data) < 14:
        raise MidiFileError("the file is truncated (it ends inside the header)")
    fmt = int.from_bytes(data[8:10], "big")
    ntracks = int.from_bytes(data[10:12], "big")
    division = int.from_bytes(data[12:14], "big")
    if fmt > 2:
        raise MidiFileError(f"unknown MIDI format {fmt} (0, 1 or 2 expected)")
    if ntracks == 0:
        raise MidiFileError("the file has no tracks")
    if division & 0x8000:
        raise MidiFileError("SMPTE time division is not supported (only ticks per quarter note)")
    if division == 0:
        raise MidiFileError("the header gives 0 ticks per quarter note")
    return division


def _mido_parse(data: bytes):
    """(mido.MidiFile, repairs made): slight damage is repaired and reported (midi_repair.py)."""
    try:
        return parse_tolerant(data)
    except EOFError:
        raise MidiFileError("the file is truncated (it ends in the middle of a track)") from None
    except Exception as exc:  # noqa: BLE001 - mido raises OSError, ValueError, KeyError...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MidiFileError(f"damaged MIDI data ({reason})") from None


def _read(midi, tpq: int, infer_pickup: bool) -> tuple[Score, LoadReport]:
    events = _collect(midi)
    changes: list[str] = []
    notes = events["notes"]
    drums = [n for n in notes if n.line[1] == DRUM_CHANNEL]
    notes = [n for n in notes if n.line[1] != DRUM_CHANNEL]
    if drums:
        changes.append(f"{plural(len(drums), 'drum note')} (channel 10) ignored")
    if events["unclosed"]:
        changes.append(
            f"{plural(events['unclosed'], 'note')} without a note-off ended at the track's end"
        )
    if events["zero_length"]:
        changes.append(f"{plural(events['zero_length'], 'zero-length note')} (grace notes) dropped")
    if not events["signature"] and notes:  # conductor events after the music change nothing
        end = max(n.end for n in notes)
        for name in ("tempos", "signatures", "keys"):
            events[name] = [e for e in events[name] if e[0] == 0 or e[0] < end]
    shift = _quantize(notes, tpq)
    short = [n for n in notes if n.end <= n.start]
    for n in short:
        n.end = n.start + 1
    if short:
        changes.append(f"{plural(len(short), 'note')} shorter than a 16th lengthened to one")
    if shift > 1e-9:
        changes.append(f"timing quantized to 16ths (largest shift {shift:.2f} of a 16th)")
    is_cantor = events["signature"]
    last_note = max((n.end for n in notes), default=0)
    length = last_note
    if is_cantor:  # its voice tracks end where the score ends
        length = max(last_note, _step(events["voices_end_tick"], tpq))
    if length > MAX_STEPS:
        raise MidiFileError(
            f"the music would be {length} 16ths long; cantor reads pieces up to {MAX_STEPS} 16ths"
        )
    meter, pickup, marked = _meter(events, tpq, changes)
    tempo = _tempo(events["tempos"], changes)
    key = events["keys"][0][1] if events["keys"] else None
    if len({_sharps(k) for _, k in events["keys"]}) > 1:  # Am -> C is not a change of signature
        changes.append(f"key changes ignored (kept {key})")

    ids, voice_lines, source, dropped = assign_voices(notes, length, events["names"], changes)
    if is_cantor:
        source = "cantor file"
    elif midi.type == 0:
        source = f"type 0 file, {source}"
    pitches, onsets = grid_to_arrays(ids, notes)
    if infer_pickup and not is_cantor and not marked:
        pickup = pickup_from_music(pitches, onsets, meter)
        if pickup:
            changes.append(f"pickup of {_beats(pickup, meter)} inferred from the music")
    marks = [(_step(tick, tpq), text) for tick, text in events["fermata_marks"]]
    fermatas = fermatas_from_marks(marks, pitches, onsets)
    programs = _programs(voice_lines, events["programs"], events["names"])
    title = (
        events["title"] if (is_cantor or midi.type == 0 or not events["track0_has_notes"]) else ""
    )
    steps_per_bar = meter[0] * 16 // meter[1]
    score = Score(
        pitches,
        onsets,
        time_signature=meter,
        pickup=pickup % max(1, steps_per_bar),
        tempo_bpm=tempo,
        key=key,
        programs=programs,
        title=title,
        fermatas=fermatas,
    )
    report = LoadReport(
        source,
        changes,
        notes_read=len(notes) + len(drums) + events["zero_length"],
        notes_dropped=dropped + events["zero_length"],
        max_quantize_shift_steps=round(shift, 3),
    )
    return score, report


def _collect(midi) -> dict:
    """Notes with absolute ticks and the conductor events, from every track."""
    notes: list[Note] = []
    out = {
        "tempos": [],
        "signatures": [],
        "keys": [],
        "names": {},
        "programs": {},
        "title": "",
        "signature": False,
        "pickup_marker": None,
        "voices_end_tick": 0,
        "unclosed": 0,
        "zero_length": 0,
        "track0_has_notes": False,
        "fermata_marks": [],
    }
    for t, track in enumerate(midi.tracks):
        tick = 0
        open_notes: dict[tuple[int, int], deque[int]] = {}
        orphan_offs: dict[tuple[int, int], int] = {}  # note-offs with no note sounding
        for msg in track:
            tick += msg.time
            kind = msg.type
            if kind == "note_on" and msg.velocity > 0:
                if orphan_offs.get((msg.channel, msg.note)) == tick:
                    out["zero_length"] += 1  # its off came first: a zero-length (grace) note
                    continue
                open_notes.setdefault((msg.channel, msg.note), deque()).append(tick)
                if t == 0:
                    out["track0_has_notes"] = True
            elif kind in ("note_off", "note_on"):
                starts = open_notes.get((msg.channel, msg.note))
                if starts:
                    # The oldest note ends here: starts are in time order, so it is the first
                    # (a repeated note's on may come before the previous note's off at the same
                    # tick: the older one still goes first). A deque keeps this O(1) per note.
                    start = starts.popleft()
                    if start == tick:
                        out["zero_length"] += 1
                    else:
                        notes.append(Note(start, tick, msg.note, (t, msg.channel)))
                else:
                    orphan_offs[(msg.channel, msg.note)] = tick
            elif kind == "program_change":
                out["programs"].setdefault((t, msg.channel), msg.program)
                out["programs"].setdefault(msg.channel, msg.program)
                out["programs"].setdefault(("track", t), msg.program)
            elif kind == "set_tempo":
                out["tempos"].append((tick, msg.tempo))
            elif kind == "time_signature":
                out["signatures"].append((tick, msg.numerator, msg.denominator))
            elif kind == "key_signature":
                out["keys"].append((tick, msg.key))
            elif kind == "track_name":
                out["names"].setdefault(t, _from_latin1(msg.name))
                if t == 0:
                    out["title"] = out["names"][t]
            elif kind in ("marker", "text") and fermata_text(msg.text):
                out["fermata_marks"].append((tick, fermata_text(msg.text)))
            elif kind == "text" and msg.text == SIGNATURE:
                out["signature"] = True
            elif kind == "marker" and msg.text.startswith(PICKUP_MARKER):
                with contextlib.suppress(ValueError):
                    out["pickup_marker"] = int(msg.text[len(PICKUP_MARKER) :])
        for (channel, pitch), starts in open_notes.items():
            out["unclosed"] += len(starts)
            notes.extend(Note(s, tick, pitch, (t, channel)) for s in starts)
        if t > 0 or len(midi.tracks) == 1:
            out["voices_end_tick"] = max(out["voices_end_tick"], tick)
    out["notes"] = notes
    for key in ("tempos", "signatures", "keys"):
        out[key].sort(key=lambda e: e[0])
    return out


def _step(tick: int, tpq: int) -> int:
    """Nearest 16th step (halves round up, so results never depend on float rounding)."""
    return (tick * 8 + tpq) // (2 * tpq)


def _quantize(notes: list[Note], tpq: int) -> float:
    """Turn ticks into steps in place; return the largest shift in 16ths."""
    shift = 0.0
    if tpq % 4 == 0:
        unit = tpq // 4
        exact = all(n.start % unit == 0 and n.end % unit == 0 for n in notes)
    else:
        exact = False
    for n in notes:
        n.ticks = (n.start, n.end)
        s, e = _step(n.start, tpq), _step(n.end, tpq)
        if not exact:
            shift = max(shift, abs(n.start * 4 / tpq - s), abs(n.end * 4 / tpq - e))
        n.start, n.end = s, e
    return shift


def _meter(events, tpq, changes) -> tuple[tuple[int, int], int, bool]:
    """(time signature, pickup in steps, whether the file settles the pickup) by the rules in the
    module docstring; a file whose meter changes settles it too (its bars are no single grid)."""
    sigs = [(tick, num, den) for tick, num, den in events["signatures"]]
    pickup = 0
    if len(sigs) >= 2 and sigs[0][0] == 0 and sigs[1][1:] != sigs[0][1:]:
        _, pnum, pden = sigs[0]
        first_bar = pnum * 4 * tpq // pden
        if sigs[1][0] == first_bar and pnum * sigs[1][2] < sigs[1][1] * pden:
            pickup = _step(first_bar, tpq)
            sigs = sigs[1:]
    meter = (4, 4)
    marked = pickup > 0 or events["pickup_marker"] is not None
    if sigs:
        num, den = sigs[0][1:]
        if 1 <= num <= 32 and den in ALLOWED_DENOMINATORS:
            meter = (num, den)
        else:
            changes.append(f"time signature {num}/{den} not supported; read as 4/4")
            pickup = 0
        if len({s[1:] for s in sigs}) > 1:
            changes.append(f"meter changes ignored (kept {meter[0]}/{meter[1]})")
            marked = True
    if events["pickup_marker"] is not None:
        pickup = events["pickup_marker"]
    steps_per_bar = meter[0] * 16 // meter[1]
    if not (0 <= pickup < steps_per_bar):
        pickup = 0
    return meter, pickup, marked


def _beats(steps: int, meter: tuple[int, int]) -> str:
    """16th steps as beats of the meter's denominator: "1 beat", "1.5 beats"."""
    beats = steps / max(1, 16 // meter[1])
    return f"{beats:g} beat" + ("" if beats == 1 else "s")


def _sharps(key: str) -> int:
    from mido.midifiles.meta import _key_signature_encode

    return _key_signature_encode[key][0]


def _tempo(tempos: list, changes: list[str]) -> float:
    if not tempos:
        return 120.0  # the MIDI default when a file sets no tempo
    bpm = round(60e6 / max(1, tempos[0][1]), 2)
    if len({t for _, t in tempos}) > 1:
        changes.append(f"tempo changes ignored (kept the first, {bpm:g} BPM)")
    if not 10 <= bpm <= 400:
        clamped = min(400.0, max(10.0, bpm))
        changes.append(f"tempo {bpm:g} BPM out of range 10..400; set to {clamped:g}")
        bpm = clamped
    return bpm


def _programs(voice_lines, programs: dict, names: dict) -> tuple[int, ...]:
    """Each voice the program of its line, or of a track named for it; else the first found."""
    found = [None] * NUM_VOICES
    for v, line in enumerate(voice_lines):
        if line is not None:
            found[v] = programs.get(line, programs.get(line[1], 0))
    for track, name in names.items():
        v = voice_for_name(name)
        if v is not None and found[v] is None and ("track", track) in programs:
            found[v] = programs[("track", track)]
    first = next((p for p in found if p is not None), None)
    if first is None:
        return DEFAULT_PROGRAMS
    return tuple(first if p is None else p for p in found)
