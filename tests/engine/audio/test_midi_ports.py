"""MIDI keyboards and MIDI outputs through real ports on a real JACK server (tests/jack_midi.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.audio.midi_ports import (
    MidiPlayer,
    MidiUnavailable,
    NoteEvent,
    NoteInput,
    find_port,
    list_ports,
    quantize_performance,
)
from engine.music.score import Score
from tests.jack_midi import jack, received  # noqa: F401 - the fixture

ON, OFF = 0x90, 0x80


def test_ports_are_listed_and_found_by_a_part_of_their_name(jack):  # noqa: F811
    jack.keyboard("keys")
    jack.synth("in")
    assert "kbd:keys" in list_ports("input") and "synth:in" in list_ports("output")
    assert find_port("KEYS", "input")[1] == "kbd:keys"
    with pytest.raises(MidiUnavailable, match="no MIDI input port matches 'piano'.*kbd:keys"):
        find_port("piano", "input")
    jack.keyboard("keys2")
    with pytest.raises(MidiUnavailable, match="matches several"):
        find_port("keys", "input")


def test_no_server_means_no_ports_at_once(monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "cantor-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    began = time.monotonic()
    assert list_ports("input") == [] and list_ports("output") == []
    with pytest.raises(MidiUnavailable, match="ports here: none"):
        NoteInput("keys", print)
    assert time.monotonic() - began < 3


def test_keys_pressed_arrive_as_note_events(jack):  # noqa: F811
    keyboard = jack.keyboard()
    events: list[NoteEvent] = []
    with NoteInput("keys", events.append):
        time.sleep(0.1)
        keyboard.send_message([ON, 60, 90])
        time.sleep(0.05)
        keyboard.send_message([ON, 60, 0])  # note on with velocity 0 is a release
        keyboard.send_message([ON | 3, 43, 70])  # any channel
        keyboard.send_message([OFF | 3, 43, 0])
        keyboard.send_message([0xB0, 64, 127])  # the sustain pedal is not a note
        deadline = time.monotonic() + 3
        while len(events) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert [(e.pitch, e.velocity, e.on) for e in events] == [
        (60, 90, True), (60, 0, False), (43, 70, True), (43, 0, False)]
    assert 0.03 < events[1].seconds - events[0].seconds < 0.5


def ev(pitch, on, seconds):
    return NoteEvent(pitch, 80 if on else 0, on, seconds)


def test_a_performance_is_quantized_to_one_voice_of_16ths():
    step = 0.125  # 120 BPM
    events = [
        ev(60, True, 10.01), ev(60, False, 10.49),   # a quarter, a little late to release
        ev(62, True, 10.48), ev(64, True, 10.74),    # legato: D is cut where E starts
        ev(62, False, 10.80), ev(64, False, 11.00),
        ev(65, True, 11.02), ev(65, False, 11.03),   # a very short touch: one step
        ev(67, True, 11.50),                         # still held at the end
    ]
    notes = quantize_performance(events, 10.0, step, steps=16)
    assert notes == [(60, 0, 4), (62, 4, 6), (64, 6, 8), (65, 8, 9), (67, 12, 13)]
    assert quantize_performance(events, 10.0, step, steps=7)[-1] == (64, 6, 7)  # cut at the end
    assert quantize_performance([ev(60, True, 9.0), ev(60, False, 9.5)], 10.0, step, 16) == []


def test_a_score_plays_to_a_midi_output_in_time(jack):  # noqa: F811
    synth = jack.synth()
    pitches = np.full((4, 8), -1, dtype=np.int16)
    pitches[0, :4], pitches[0, 4:] = 72, 74
    pitches[3, :] = 48
    score = Score(pitches, tempo_bpm=240)  # a step lasts 62.5 ms
    with MidiPlayer("synth") as player:
        began = time.monotonic()
        player.play(score, mute=(), solo=())
        time.sleep(0.1)
        assert player.is_playing and player.position() is not None
        assert player.wait(5)
        took = time.monotonic() - began
    messages = received(synth)
    notes = [m for m in messages if m[0] & 0xF0 in (ON, OFF)]
    assert [m[0] & 0xF0 for m in messages[:4]] == [0xC0] * 4  # programs first
    assert sorted(notes[:2]) == [[ON, 72, 80], [ON | 3, 48, 80]]
    assert [ON, 74, 80] in notes and [OFF | 3, 48, 0] in notes
    assert 0.45 < took < 1.5


def test_closing_at_the_end_lets_the_last_note_offs_out(jack):  # noqa: F811
    """rtmidi delivers from its own thread: a port closed at once could drop the final note-offs
    and leave the synth's notes hanging, so closing waits a moment after the last message."""
    synth = jack.synth()
    pitches = np.full((4, 4), 60, dtype=np.int16)
    player = MidiPlayer("synth")
    player.play(Score(pitches, tempo_bpm=240))
    assert player.wait(5)
    player.close()
    assert time.monotonic() - player._last_sent >= MidiPlayer.DRAIN
    notes = [m for m in received(synth) if m[0] & 0xF0 in (ON, OFF)]
    assert sorted(m[0] for m in notes if m[0] & 0xF0 == OFF) == [OFF, OFF | 1, OFF | 2, OFF | 3]


def test_stopping_silences_every_sounding_note(jack):  # noqa: F811
    synth = jack.synth()
    pitches = np.full((4, 64), 60, dtype=np.int16)
    with MidiPlayer("synth") as player:
        player.play(Score(pitches, tempo_bpm=60), loop=True)
        time.sleep(0.3)
        player.stop()
        assert not player.is_playing and player.position() is None
    notes = [m for m in received(synth) if m[0] & 0xF0 in (ON, OFF)]
    on = sum(1 for m in notes if m[0] & 0xF0 == ON and m[2] > 0)
    off = sum(1 for m in notes if m[0] & 0xF0 == OFF or m[2] == 0)
    assert on == 4 and off == 4


def test_chords_arrive_whole_while_the_interpreter_is_busy(jack):  # noqa: F811
    """rtmidi callbacks (mido's way) repeated a chord's first key under a busy GIL: not here."""
    import threading

    keyboard = jack.keyboard()
    events: list[NoteEvent] = []
    done = threading.Event()

    def busy() -> None:
        while not done.is_set():
            sum(range(1000))

    threading.Thread(target=busy, daemon=True).start()
    try:
        with NoteInput("keys", events.append):
            time.sleep(0.1)
            for _ in range(15):
                events.clear()
                for pitch in (64, 72, 55):
                    keyboard.send_message([ON, pitch, 80])
                deadline = time.monotonic() + 2
                while len(events) < 3 and time.monotonic() < deadline:
                    time.sleep(0.005)
                time.sleep(0.02)
                assert sorted(e.pitch for e in events) == [55, 64, 72]
                for pitch in (64, 72, 55):
                    keyboard.send_message([OFF, pitch, 0])
                time.sleep(0.02)
    finally:
        done.set()
