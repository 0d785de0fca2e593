"""Exceptions the engine raises; every one carries a one-line message a user can act on."""


class CantorError(Exception):
    """Base of every error cantor reports to a user (the CLI prints it on one line)."""


class ScoreError(CantorError, ValueError):
    """A score is malformed or an operation on it is out of bounds."""


class PitchRangeError(ScoreError):
    """A pitch falls outside the range an operation allows."""


class MidiFileError(CantorError):
    """A MIDI file cannot be read or written."""


class MusicXMLError(CantorError):
    """A MusicXML file cannot be read."""


class CheckpointError(CantorError):
    """A model checkpoint is missing, damaged, or of the wrong kind."""


class AudioUnavailable(CantorError):
    """Sound cannot be produced here (library, SoundFont, or output device missing)."""
