"""Shared fixtures: small MIDI files made in the test itself."""

from __future__ import annotations

import io
from pathlib import Path

import pytest


class MidiMaker:
    """Builds MIDI files from messages whose `time` is an absolute tick."""

    def __init__(self, folder: Path):
        self.folder = folder

    @staticmethod
    def note(channel: int, pitch: int, start: int, end: int, velocity: int = 80) -> list:
        import mido

        return [
            mido.Message("note_on", channel=channel, note=pitch, velocity=velocity, time=start),
            mido.Message("note_off", channel=channel, note=pitch, velocity=0, time=end),
        ]

    @staticmethod
    def data(tracks: list[list], type: int = 1, tpq: int = 480) -> bytes:
        import mido

        midi = mido.MidiFile(type=type, ticks_per_beat=tpq)
        for events in tracks:
            track, now = mido.MidiTrack(), 0
            for msg in sorted(events, key=lambda m: m.time):
                track.append(msg.copy(time=msg.time - now))
                now = msg.time
            midi.tracks.append(track)
        out = io.BytesIO()
        midi.save(file=out)
        return out.getvalue()

    def write(self, name: str, tracks: list[list] | bytes, **kwargs) -> Path:
        path = self.folder / name
        path.write_bytes(tracks if isinstance(tracks, bytes) else self.data(tracks, **kwargs))
        return path

    def melody(self, name: str = "melody.mid") -> Path:
        """One track, eight notes of a C major scale in quarters at 96 ticks per quarter."""
        notes = [
            m
            for i, p in enumerate((60, 62, 64, 65, 67, 69, 71, 72))
            for m in self.note(0, p, i * 96, i * 96 + 90)
        ]
        return self.write(name, [notes], tpq=96)

    def piano_with_drums(self, name: str = "piano.mid") -> Path:
        """A piano track of five-note chords (right hand melody on top) and a channel-10 track."""
        import mido

        chords = [
            (76, 72, 67, 60, 48),
            (77, 72, 69, 65, 53),
            (79, 74, 71, 67, 55),
            (79, 76, 72, 64, 48),
        ]
        piano = [mido.Message("program_change", channel=0, program=0, time=0)]
        for i, chord in enumerate(chords):
            for p in chord:
                piano += self.note(0, p, i * 480, i * 480 + 470)
        drums = [m for i in range(8) for m in self.note(9, 36, i * 240, i * 240 + 60)]
        tempo = [mido.MetaMessage("set_tempo", tempo=500000, time=0)]
        return self.write(name, [tempo, piano, drums])


@pytest.fixture
def midi_maker(tmp_path) -> MidiMaker:
    return MidiMaker(tmp_path)


@pytest.fixture(scope="session")
def chorale_midi(tmp_path_factory) -> Path:
    """Bach's BWV 66.6 from music21's corpus, written to MIDI by music21 (it has a pickup)."""
    from music21 import corpus

    path = tmp_path_factory.mktemp("chorales") / "bwv66.6.mid"
    corpus.parse("bach/bwv66.6").write("midi", fp=str(path))
    return path


@pytest.fixture(autouse=True)
def private_config(tmp_path_factory, monkeypatch):
    """Every test (and every cantor it starts) reads and writes a throw-away XDG_CONFIG_HOME and
    XDG_CACHE_HOME, never the user's settings or caches."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    # Variants one batch at a time unless a test asks for lanes: whether the cores are free must
    # not change what a test sees (tests/engine/coconet/test_lanes.py tests side by side).
    monkeypatch.setenv("CANTOR_LANES", "1")
