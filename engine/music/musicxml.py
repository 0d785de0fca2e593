"""MusicXML export through music21 (imported only when used, it is slow to import).

Each part carries its voice's General MIDI program (`Score.programs`). Fermatas: every note (or the part of it in a bar) that lies inside a fermata span and starts
there (or at the span's start) carries a fermata, in every voice, as Bach's chorales mark them.
Reading MusicXML is `engine/music/musicxml_read.py`.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from engine.errors import CantorError, MidiFileError, ScoreError
from engine.fileio import atomic_output
from engine.music.midi_write import midi_key_name
from engine.music.score import NUM_VOICES, VOICE_NAMES, Score

SUFFIXES = (".musicxml", ".xml", ".mxl")


def save_musicxml(score: Score, path) -> Path:
    """Write `score` as MusicXML (.musicxml/.xml plain, .mxl compressed), atomically."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ScoreError(f"MusicXML file name must end with {', '.join(SUFFIXES)}; got {path.name}")
    data = musicxml_bytes(score)
    if path.suffix.lower() == ".mxl":
        data = _compressed(data, path.stem + ".musicxml")
    try:
        with atomic_output(path, "MusicXML file") as tmp:
            tmp.write_bytes(data)
    except MidiFileError as exc:  # the shared writer speaks of files in general
        raise CantorError(str(exc)) from None
    return path


def musicxml_bytes(score: Score) -> bytes:
    """The uncompressed MusicXML document for `score`."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    return GeneralObjectExporter(to_music21(score)).parse()


def to_music21(score: Score):
    """A music21 Score: one part per voice, measures (bar 0 = pickup), notes tied over bar lines."""
    from music21 import metadata, stream

    result = stream.Score()
    result.metadata = metadata.Metadata()
    result.metadata.title = score.title  # empty stays empty (read back, "Untitled" was a title)
    for v in range(NUM_VOICES):
        part = stream.Part(id=VOICE_NAMES[v])
        part.partName = VOICE_NAMES[v]
        for number, start, end in _bars(score):
            part.append(_measure(score, v, number, start, end))
        first = part.getElementsByClass(stream.Measure).first()
        first.insert(0, _clef(v))
        first.insert(0, _instrument(v, score.programs[v]))
        result.insert(0, part)
    return result


def _instrument(voice: int, program: int):
    """The voice's General MIDI program (0-based here; MusicXML writes it 1-based), so a
    notation program plays each part with the sound cantor gave it."""
    from music21 import instrument

    sound = instrument.Instrument()
    sound.partName = sound.instrumentName = VOICE_NAMES[voice]
    sound.midiProgram = int(program)
    sound.midiChannel = voice
    return sound


def _clef(voice: int):
    """Each voice's clef: treble for soprano and alto, the octave treble for the tenor, bass."""
    from music21 import clef

    return (clef.TrebleClef, clef.TrebleClef, clef.Treble8vbClef, clef.BassClef)[voice]()


def _bars(score: Score) -> list[tuple[int, int, int]]:
    """(bar number, first step, end step) of every bar, the pickup bar 0 first."""
    bars = [(0, 0, min(score.pickup, score.num_steps))] if score.pickup else []
    start, number = score.pickup, 1
    while start < score.num_steps or number == 1:
        end = min(start + score.steps_per_bar, score.num_steps)
        bars.append((number, start, max(end, start)))
        start, number = start + score.steps_per_bar, number + 1
    return [b for b in bars if b[2] > b[1] or b[0] in (0, 1)]


def _measure(score: Score, voice: int, number: int, start: int, end: int):
    from music21 import expressions, key, meter, note, stream, tempo

    measure = stream.Measure(number=number)
    if number == 0 or (number == 1 and not score.pickup):
        num, den = score.time_signature
        measure.timeSignature = meter.TimeSignature(f"{num}/{den}")
        m21_key = _music21_key(score.key)
        if m21_key:
            measure.keySignature = key.Key(m21_key)
        if voice == 0:
            measure.insert(0, tempo.MetronomeMark(number=score.tempo_bpm))
    if number == 0:
        measure.paddingLeft = (score.steps_per_bar - (end - start)) / 4
    elif end - start < score.steps_per_bar:  # a short last bar stays short (not filled with rests)
        measure.paddingRight = (score.steps_per_bar - (end - start)) / 4
    cursor = start
    for onset, length, pitch in score.notes(voice):
        a, b = max(onset, start), min(onset + length, end)
        if b <= a:
            continue
        if a > cursor:
            measure.append(note.Rest(quarterLength=(a - cursor) / 4))
        n = note.Note(pitch, quarterLength=(b - a) / 4)
        if _under_fermata(score, a, b, onset):
            mark = expressions.Fermata()
            mark.type = "upright"  # each voice has a staff of its own: over the note
            n.expressions.append(mark)
        if onset < start or onset + length > end:  # held over a bar line: tie the pieces
            from music21 import tie

            kind = (
                "continue"
                if onset < start and onset + length > end
                else ("stop" if onset < start else "start")
            )
            n.tie = tie.Tie(kind)
        measure.append(n)
        cursor = b
    if end > cursor:
        measure.append(note.Rest(quarterLength=(end - cursor) / 4))
    return measure


def _under_fermata(score: Score, start: int, end: int, onset: int) -> bool:
    """Steps [start, end), a note struck at `onset` or the part of it in a bar, lie in one
    fermata span, and start the note or the span, or continue (tied over a bar line) a note
    struck inside it: each written piece carries the mark, so the span reads back whole."""
    marks = score.fermatas
    if marks is None or not marks[start:end].all():
        return False
    return (start == onset or start == 0 or not marks[start - 1]
            or (onset < start and bool(marks[onset:start].all())))


def _music21_key(name: str | None) -> str | None:
    """cantor/MIDI key name ("Bb", "F#m") -> music21's ("B-", "f#"); None if unknown."""
    if not name:
        return None
    try:
        text = midi_key_name(name)
    except CantorError:
        return None
    minor = text.endswith("m")
    tonic = text[:-1] if minor else text
    tonic = tonic[0] + tonic[1:].replace("b", "-")
    return tonic.lower() if minor else tonic


def _compressed(xml: bytes, inner_name: str) -> bytes:
    """A .mxl container holding the document."""
    container = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<container><rootfiles>'
        f'<rootfile full-path="{inner_name}" media-type="application/vnd.recordare.musicxml+xml"/>'
        "</rootfiles></container>\n"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/vnd.recordare.musicxml", zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", container)
        z.writestr(inner_name, xml)
    return out.getvalue()
