"""MusicXML import through music21: `load_musicxml`, `load_musicxml_report` (.musicxml, .xml, .mxl).

What is read: the notes of every part and of every voice inside a part (a "line" each, so a choir on
two staves with two voices per staff gives four lines), tied notes joined, the first time
signature, a pickup (a first measure shorter than the meter's bar), the first key (a key signature
without a mode is minor when the bass ends on the relative minor's tonic), the first tempo mark,
the title, each part's General MIDI program, and fermatas (the steps of every note that carries one, in any voice; none found =
unknown). Four voices are made as for MIDI files (`engine/music/voices.py`): lines named Soprano,
Alto, Tenor, Bass by name, one to four single-note lines by count and pitch, anything else (chords,
more lines) by pitch order at every 16th. A score of more than four parts keeps the top three and
the lowest (in score order: the bass carries the harmony) and says which were left out. Grace notes are dropped; durations are
rounded to 16ths. The report says what was changed.
"""

from __future__ import annotations

import contextlib
import io
import xml.etree.ElementTree as ET
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.errors import MusicXMLError
from engine.fileio import os_reason, read_limited
from engine.music.midi import MAX_STEPS, LoadReport
from engine.music.score import ALLOWED_DENOMINATORS, DEFAULT_PROGRAMS, NUM_VOICES, Score
from engine.music.voices import Note, assign_voices, grid_to_arrays, plural

MAX_FILE_BYTES = 16 * 1024 * 1024  # a long orchestral score; a chorale is ~100 KB
TICKS = 480  # per quarter: the resolution at which lines are judged monophonic


def load_musicxml(path) -> Score:
    """Read a MusicXML file into a four-voice Score; raises MusicXMLError with a one-line reason."""
    return load_musicxml_report(path)[0]


def load_musicxml_report(path) -> tuple[Score, LoadReport]:
    """Read a MusicXML file into a Score, with a report of what the import changed."""
    path = Path(path)
    try:
        if path.is_dir():
            raise MusicXMLError(f"{path} is a folder, not a MusicXML file")
        data = read_limited(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise MusicXMLError(f"{path}: no such file") from None
    except OSError as exc:
        raise MusicXMLError(f"cannot read {path}: {os_reason(exc)}") from None
    if len(data) > MAX_FILE_BYTES:
        raise MusicXMLError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MB; cantor reads"
                            f" MusicXML files up to that size")
    try:
        xml = _xml_of(data)
        parsed = _parse(xml)
        score, report = from_music21(parsed, _part_programs(xml))
    except MusicXMLError as exc:
        raise MusicXMLError(f"{path}: {exc}") from None
    return score, report


def _xml_of(data: bytes) -> bytes:
    """The MusicXML document of a plain file or of a compressed .mxl container."""
    if not data.startswith(b"PK"):
        return data
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            inner = None
            if "META-INF/container.xml" in names:
                root = ET.fromstring(z.read("META-INF/container.xml"))
                found = root.find(".//rootfile")
                inner = found.get("full-path") if found is not None else None
            if inner not in names:
                inner = next((n for n in names if n.endswith((".xml", ".musicxml"))
                              and not n.startswith("META-INF/")), None)
            if inner is None:
                raise MusicXMLError("the .mxl archive holds no MusicXML document")
            info = z.getinfo(inner)
            if info.file_size > MAX_FILE_BYTES * 8:
                raise MusicXMLError("the .mxl archive unpacks to more than cantor reads")
            return z.read(inner)
    except (zipfile.BadZipFile, ET.ParseError, KeyError, OSError) as exc:
        raise MusicXMLError(f"damaged .mxl archive ({exc})") from None


def _parse(xml: bytes):
    """A music21 stream from MusicXML bytes (never through music21's pickle cache)."""
    try:
        from music21.musicxml.xmlToM21 import MusicXMLImporter
    except ImportError:
        raise MusicXMLError("reading MusicXML needs music21: pip install music21") from None
    if b"<score-partwise" not in xml and b"<score-timewise" not in xml:
        raise MusicXMLError("not a MusicXML file (no <score-partwise> or <score-timewise>)")
    importer = MusicXMLImporter()
    importer.xmlText = xml
    try:  # music21 prints its warnings; the composer's screen must stay clean
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            importer.parseXMLText()
    except Exception as exc:  # noqa: BLE001 - music21 raises many kinds for a bad document
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MusicXMLError(f"damaged MusicXML ({reason[:120]})") from None
    return importer.stream


def _part_programs(xml: bytes) -> list[int | None]:
    """The General MIDI program (0-based) of each <part> in document order, from the document
    itself: music21 reads <midi-program>1</midi-program> as "no program" and puts an instrument's
    default in its place (a part named Soprano then plays program 53)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return []
    by_id = {}
    for score_part in root.iter("score-part"):
        found = score_part.find("midi-instrument/midi-program")
        try:
            program = int(found.text.strip()) - 1 if found is not None and found.text else None
        except ValueError:
            program = None
        by_id[score_part.get("id")] = program if program is not None and 0 <= program <= 127 else None
    return [by_id.get(part.get("id")) for part in root.findall("part")]


def from_music21(stream, part_programs: list[int | None] | None = None) -> tuple[Score, LoadReport]:
    """A four-voice Score (and a report) from a music21 Score, Part or Opus; `part_programs`:
    each part's program as the document gives it (else music21's reading)."""
    from music21 import stream as m21stream

    changes: list[str] = []
    if isinstance(stream, m21stream.Opus):
        scores = list(stream.scores)
        if not scores:
            raise MusicXMLError("the file holds no score")
        if len(scores) > 1:
            changes.append(f"the first of {len(scores)} pieces read")
        stream = scores[0]
    parts = list(stream.parts) if isinstance(stream, m21stream.Score) else [stream]
    if len(parts) > NUM_VOICES:  # the top three and the lowest: the bass carries the harmony
        kept = [*range(NUM_VOICES - 1), len(parts) - 1]
        left = [p.partName or f"part {i + 1}" for i, p in enumerate(parts) if i not in kept]
        changes.append(f"{len(parts)} parts: the top three and the lowest read,"
                       f" {', '.join(left)} left out")
        parts = [parts[i] for i in kept]
        if part_programs and len(part_programs) > max(kept):
            part_programs = [part_programs[i] for i in kept]
    notes, fermata_notes, grace = _notes(parts)
    if not notes:
        raise MusicXMLError("the file has no notes")
    if grace:
        changes.append(f"{plural(grace, 'grace note')} dropped")
    if any(n.ticks[0] % (TICKS // 4) or n.ticks[1] % (TICKS // 4) for n in notes):
        changes.append("timing rounded to 16ths")
    for n in notes:
        n.end = max(n.end, n.start + 1)
    length = max(max(n.end for n in notes), round(float(stream.highestTime) * 4))
    if length > MAX_STEPS:
        raise MusicXMLError(f"the music would be {length} 16ths long; cantor reads pieces up to"
                            f" {MAX_STEPS} 16ths")
    names = {i: p.partName or "" for i, p in enumerate(parts)}
    ids, lines, source, _ = assign_voices(notes, length, names, changes)
    pitches, onsets = grid_to_arrays(ids, notes)
    meter = _meter(stream, changes)
    fermatas = None
    if fermata_notes:
        fermatas = np.zeros(length, dtype=bool)
        for start, end in fermata_notes:
            fermatas[start:end] = True
    score = Score(
        pitches,
        onsets,
        time_signature=meter,
        pickup=_pickup(parts[0], meter),
        tempo_bpm=_tempo(stream, changes),
        key=_key(stream, pitches, changes),
        title=_title(stream),
        fermatas=fermatas,
        programs=_programs(parts, lines, part_programs),
    )
    source = source.replace("track", "part")  # the MIDI wording, said of MusicXML
    return score, LoadReport(f"MusicXML, {source}", changes, notes_read=len(notes) + grace,
                             notes_dropped=grace)


def _notes(parts) -> tuple[list[Note], list[tuple[int, int]], int]:
    """(notes with steps and ticks, steps [start, end) under a fermata, grace notes dropped)."""
    from music21 import expressions, stream

    notes: list[Note] = []
    with_fermata: list[tuple[int, int]] = []
    grace = 0
    for p, part in enumerate(parts):
        voice_ids: dict[str, int] = {}
        open_ties: dict[tuple[int, int], Note] = {}  # (voice, pitch) -> note a tie continues
        for element in part.recurse().notes:
            if element.duration.isGrace or element.quarterLength == 0:
                grace += 1
                continue
            site = element.activeSite
            voice = 0
            if isinstance(site, stream.Voice):
                voice = voice_ids.setdefault(str(site.id), len(voice_ids))
            start = Fraction(element.getOffsetInHierarchy(part))
            end = start + Fraction(element.quarterLength)
            fermata = any(isinstance(e, expressions.Fermata) for e in element.expressions)
            members = element.notes if element.isChord else [element]
            for member in members:
                if not hasattr(member, "pitch"):
                    continue  # unpitched percussion
                pitch = member.pitch.midi
                if not 0 <= pitch <= 127:
                    continue
                tie = member.tie or element.tie
                held = open_ties.get((voice, pitch))
                if held is not None and tie is not None and tie.type in ("stop", "continue"):
                    held.ticks = (held.ticks[0], _ticks(end))
                    note = held
                else:
                    note = Note(_step(start), 0, pitch, (p, voice), (_ticks(start), _ticks(end)))
                    notes.append(note)
                note.end = _step(end)
                if tie is not None and tie.type in ("start", "continue"):
                    open_ties[(voice, pitch)] = note
                else:
                    open_ties.pop((voice, pitch), None)
            if fermata:  # the written note only: a tie may carry the note on past the fermata
                with_fermata.append((_step(start), max(_step(end), _step(start) + 1)))
    return notes, with_fermata, grace


def _programs(parts, lines, part_programs=None) -> tuple[int, ...]:
    """Each voice the General MIDI program of the part its line came from; a voice made from
    no single line (or a part without a program) takes the first program found; none found:
    cantor's default."""
    found = {}
    for p, part in enumerate(parts):
        if part_programs is not None and len(part_programs) == len(parts):
            program = part_programs[p]
        else:
            program = getattr(part.getInstrument(returnDefault=False), "midiProgram", None)
        if program is not None and 0 <= int(program) <= 127:
            found[p] = int(program)
    programs = [found.get(line[0]) if line is not None else None for line in lines]
    first = next((p for p in programs if p is not None), next(iter(found.values()), None))
    if first is None:
        return DEFAULT_PROGRAMS
    return tuple(first if p is None else p for p in programs)


def _step(quarters: Fraction) -> int:
    return int((quarters * 4 + Fraction(1, 2)) // 1)  # halves round up, as for MIDI


def _ticks(quarters: Fraction) -> int:
    return int((quarters * TICKS + Fraction(1, 2)) // 1)


def _meter(stream, changes: list[str]) -> tuple[int, int]:
    from music21 import meter

    signatures = list(stream.recurse().getElementsByClass(meter.TimeSignature))
    if not signatures:
        return 4, 4
    first = signatures[0]
    num, den = first.numerator, first.denominator
    if not (1 <= num <= 32 and den in ALLOWED_DENOMINATORS):
        changes.append(f"time signature {first.ratioString} not supported; read as 4/4")
        return 4, 4
    if len({s.ratioString for s in signatures}) > 1:
        changes.append(f"meter changes ignored (kept {num}/{den})")
    return num, den


def _pickup(part, meter: tuple[int, int]) -> int:
    """Steps of a first measure shorter than a bar of the meter (0 when it is whole)."""
    measures = list(part.getElementsByClass("Measure"))
    if not measures:
        return 0
    bar = meter[0] * 16 // meter[1]
    first = round(float(measures[0].duration.quarterLength) * 4)
    padding = round(float(measures[0].paddingLeft or 0) * 4)
    if 0 < first < bar and (padding or measures[0].number == 0 or len(measures) > 1):
        return first
    return 0


def _key(stream, pitches: np.ndarray, changes: list[str]) -> str | None:
    """The first key as cantor names keys ("F", "F#m"); a bare signature's mode from the bass.
    Later key changes are said to be ignored, as the MIDI reader says of them."""
    from music21 import key

    from engine.music.analysis import MAJOR_KEYS, MINOR_KEYS

    signatures = list(stream.parts[0].recurse().getElementsByClass(key.KeySignature)
                      if stream.parts else [])
    signatures = signatures or list(stream.recurse().getElementsByClass(key.KeySignature))
    found = signatures[0] if signatures else None
    if found is None:
        return None
    if len({s.sharps for s in signatures}) > 1:
        changes.append("key changes ignored (kept the first key)")
    if isinstance(found, key.Key) and found.mode in ("major", "minor"):
        tonic, minor = found.tonic.pitchClass, found.mode == "minor"
    else:
        major_tonic = (found.sharps * 7) % 12
        bass = next((row[row >= 0] for row in pitches[::-1] if (row >= 0).any()), None)
        minor = bass is not None and int(bass[-1]) % 12 == (major_tonic + 9) % 12
        tonic = (major_tonic + 9) % 12 if minor else major_tonic
    return MINOR_KEYS[tonic] if minor else MAJOR_KEYS[tonic]


def _tempo(stream, changes: list[str]) -> float:
    from music21 import tempo

    marks = list(stream.recurse().getElementsByClass(tempo.MetronomeMark))
    bpms = [bpm for bpm in (m.getQuarterBPM() for m in marks) if bpm]  # written or sounding
    if not bpms:
        return 90.0
    bpm = float(bpms[0])
    if not 10 <= bpm <= 400:
        clamped = min(400.0, max(10.0, bpm))
        changes.append(f"tempo {bpm:g} BPM out of range 10..400; set to {clamped:g}")
        bpm = clamped
    return round(bpm, 2)


def _title(stream) -> str:
    meta = stream.metadata
    if meta is None:
        return ""
    title = meta.title or meta.movementName or ""
    if str(title).lower().endswith((".mxl", ".xml", ".musicxml", ".krn")):
        return ""  # music21 puts a file name there when the document has no title
    return str(title)
