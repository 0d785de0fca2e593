"""A MIDI keyboard and a MIDI output in the composer, through real ports on a real JACK server."""

from __future__ import annotations

import threading
import time

import numpy as np

from tests.jack_midi import jack, received  # noqa: F401 - the fixture
from tui.app import CantorApp
from tui.settings import Settings

from .conftest import chorale_bar, wait_until

SIZE = (110, 30)
ON, OFF = 0x90, 0x80


def make_app(score=None, **settings) -> CantorApp:
    return CantorApp(score=score or chorale_bar(2), load_model=False, autosave=False,
                     ascii_only=True, settings=Settings(**settings))


def notices(app) -> list[str]:
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, *a, **kw: (said.append(message), notify(message, *a, **kw))
    return said


async def test_keys_and_chords_enter_notes_at_the_cursor(jack):  # noqa: F811
    keyboard = jack.keyboard("keys")
    empty = chorale_bar(2).replace(pitches=np.full((4, 32), -1, dtype=np.int16),
                                   onsets=np.zeros((4, 32), dtype=bool))
    app = make_app(empty, midi_input="keys")
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        assert await wait_until(pilot, lambda: editor._midi_input is not None, 10)
        assert editor._midi_input.name == "kbd:keys"
        doc = editor.doc
        keyboard.send_message([ON, 67, 90])  # G4 into the soprano, a quarter (the entry length)
        keyboard.send_message([OFF, 67, 0])
        assert await wait_until(pilot, lambda: doc.score.pitches[0, 0] == 67, 10)
        assert doc.step == doc.entry_length and (doc.score.pitches[0, :doc.step] == 67).all()
        here = doc.step
        for pitch in (64, 72, 55):  # a chord, struck in any order
            keyboard.send_message([ON, pitch, 80])
        ok = await wait_until(pilot, lambda: doc.score.pitches[2, here] == 55, 10)
        assert ok, (doc.score.pitches[:, :10], doc.step, [n.message for n in app._notifications])
        assert doc.score.pitches[:3, here].tolist() == [72, 64, 55]
        assert doc.score.pitches[3, here] == -1 and doc.step == here + doc.entry_length
        await pilot.press("u")  # the chord is one undo step
        assert (doc.score.pitches[:, here] == -1).all() and doc.score.pitches[0, 0] == 67


def play_in_time(keyboard, started: float, notes) -> threading.Thread:
    """A player in its own thread: (pitch, seconds from `started`, seconds held) for each note."""

    def run() -> None:
        for pitch, at, held in notes:
            for when, message in ((at, [ON, pitch, 80]), (at + held, [OFF, pitch, 0])):
                time.sleep(max(0.0, started + when - time.monotonic()))
                keyboard.send_message(message)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def test_a_take_is_recorded_into_the_current_voice(jack):  # noqa: F811
    keyboard = jack.keyboard("keys")
    score = chorale_bar(8).replace(tempo_bpm=60)  # a 16th lasts 250 ms, a bar of count-in 4 s
    app = make_app(score, midi_input="keys")
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        said = notices(app)
        assert await wait_until(pilot, lambda: editor._midi_input is not None, 10)
        doc = editor.doc
        await pilot.press("2")  # the alto
        before = doc.score
        pressed = time.monotonic()
        await pilot.press("ctrl+r")
        take = editor.recording
        assert take.started - pressed >= 4.0  # a bar of count-in
        if time.monotonic() < take.started:
            assert editor.recording_text().startswith("COUNT-IN")
        await pilot.press("c")  # typing waits while recording
        assert any("Recording" in m for m in said) and doc.score is before
        # A key touched in the count-in (not recorded), then three quarters on the beat, a
        # little detached, then a rest until ctrl+r.
        player = play_in_time(keyboard, take.started, [(59, -0.9, 0.2), (60, 0.0, 0.9),
                                                       (62, 1.0, 0.9), (64, 2.0, 0.9)])
        assert await wait_until(pilot, lambda: not player.is_alive(), 20)
        assert editor.recording_text().startswith("RECORDING")
        while time.monotonic() < take.started + 3.5:  # the take runs past the last note
            await pilot.pause(0.05)
        await pilot.press("ctrl+r")  # keep the take
        assert editor.recording is None
        alto = doc.score.pitches[1]
        onsets = np.flatnonzero(doc.score.onsets[1])
        assert [int(alto[s]) for s in onsets[:3]] == [60, 62, 64], (onsets, alto[:20], said)
        assert all(abs(int(s) - want) <= 1 for s, want in zip(onsets[:3], (0, 4, 8)))
        back = onsets[3]  # the take ends (a rest after its last note), the old alto goes on
        assert 13 <= back and (alto[12:back] == -1).all()
        assert np.array_equal(alto[back:], before.pitches[1, back:])
        assert np.array_equal(doc.score.pitches[[0, 2, 3]], before.pitches[[0, 2, 3]])
        assert any("Recorded 3 notes into the alto" in m for m in said)
        await pilot.press("u")
        assert doc.score.same_notes(before)


async def test_esc_drops_a_take_and_no_keyboard_is_said(jack):  # noqa: F811
    keyboard = jack.keyboard("keys")
    app = make_app(chorale_bar(2).replace(tempo_bpm=240), midi_input="keys")
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        said = notices(app)
        assert await wait_until(pilot, lambda: editor._midi_input is not None, 10)
        before = editor.doc.score
        await pilot.press("ctrl+r")
        take = editor.recording
        assert await wait_until(pilot, lambda: time.monotonic() > take.started + 0.1, 5)
        keyboard.send_message([ON, 70, 80])
        await pilot.pause(0.2)
        await pilot.press("escape")
        assert editor.recording is None and editor.doc.score is before
        assert any("dropped" in m for m in said)
    app = make_app(midi_input="no such keyboard")
    async with app.run_test(size=SIZE) as pilot:
        said = notices(app)
        assert await wait_until(pilot, lambda: any("no MIDI input port matches" in m
                                                   for m in said), 10)
        await pilot.press("ctrl+r")
        assert any("No MIDI keyboard" in m for m in said) and app.editor.recording is None


async def test_playback_goes_to_a_midi_output_port(jack):  # noqa: F811
    synth = jack.synth("in")
    app = make_app(chorale_bar(4).replace(tempo_bpm=300), midi_output="synth")  # 3.2 s
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        assert await wait_until(pilot, lambda: editor.sound_route is not None, 10)
        assert editor.sound_route.text == "sound: MIDI synth:in"
        await pilot.press("space")
        assert await wait_until(pilot, lambda: editor._request is not None, 10)
        assert await wait_until(pilot, lambda: not editor._playing, 15)
        notes = [m for m in received(synth) if m[0] & 0xF0 == ON and m[2] > 0]
        assert sorted(m[1] for m in notes[:4]) == [48, 55, 64, 72]
        assert len(notes) == 16  # four chords of four voices


async def test_the_settings_form_names_the_ports_and_a_keyboard_set_there_is_opened(
        jack, tmp_path, monkeypatch):  # noqa: F811
    from textual.widgets import Input, Label

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    keyboard = jack.keyboard("keys")
    jack.synth("in")
    app = CantorApp(score=chorale_bar(2), load_model=False, autosave=False, ascii_only=True)
    async with app.run_test(size=(80, 24)) as pilot:  # the whole form fits a small terminal
        await pilot.press("comma")
        form = app.screen
        ports = form.query_one("#midi-ports", Label)
        assert await wait_until(pilot, lambda: "kbd:keys" in str(ports.render()), 10)
        assert str(ports.render()) == "MIDI in: kbd:keys; out: synth:in"
        assert all(0 <= i.region.y < 24 for i in form.query(Input))
        form.query_one("#midi_input", Input).value = "keys"
        await pilot.press("ctrl+s")
        editor = app.editor
        assert await wait_until(pilot, lambda: editor._midi_input is not None, 10)
        assert app.settings.midi_input == "keys"
        keyboard.send_message([ON, 62, 80])
        assert await wait_until(pilot, lambda: editor.doc.score.pitches[0, 0] == 62, 10)
