"""`load_score`: any score file cantor opens (MIDI or MusicXML), chosen by its name or its content."""

from __future__ import annotations

from pathlib import Path

from engine.fileio import read_limited
from engine.music.midi import LoadReport, load_midi_report
from engine.music.score import Score

MIDI_SUFFIXES = (".mid", ".midi")
MUSICXML_SUFFIXES = (".musicxml", ".xml", ".mxl")
SCORE_SUFFIXES = MIDI_SUFFIXES + MUSICXML_SUFFIXES


def is_musicxml(path) -> bool:
    """A MusicXML name, or (any other name) content that starts like XML or a zip archive."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in MUSICXML_SUFFIXES:
        return True
    if suffix in MIDI_SUFFIXES:
        return False
    try:
        head = read_limited(path, 64) if path.is_file() else b""
    except OSError:
        return False  # the MIDI reader says why it cannot read it
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"<?xml", b"<score-", b"<!DOCTYPE", b"PK"))


def load_score_report(path, *, infer_pickup: bool = True) -> tuple[Score, LoadReport]:
    """Read a MIDI or MusicXML file into a Score, with a report of what the reader changed."""
    if is_musicxml(path):
        from engine.music.musicxml_read import load_musicxml_report

        return load_musicxml_report(path)
    return load_midi_report(path, infer_pickup=infer_pickup)


def load_score(path, *, infer_pickup: bool = True) -> Score:
    """Read a MIDI or MusicXML file; raises MidiFileError or MusicXMLError with a one-line reason."""
    return load_score_report(path, infer_pickup=infer_pickup)[0]
