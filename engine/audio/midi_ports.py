"""MIDI keyboards and MIDI outputs: listing ports, note input, playing a score to a port.

mido with python-rtmidi, through the ALSA sequencer (when /dev/snd/seq exists) or a running JACK
server; macOS and Windows use their own rtmidi back ends. Nothing native is imported until a port
is listed or opened, and cantor never starts a JACK server (JACK_NO_START_SERVER), so a machine
without MIDI costs nothing at start and answers "no ports" at once.

A port is named as rtmidi lists it ("Keystation 49:Keystation 49 MIDI 1 20:0", "kbd:keys"); a
setting may give any unique part of the name, since ALSA's client numbers change between boots.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.audio.synth import NOTE_ON, Schedule, quiet_stderr
from engine.errors import CantorError
from engine.music.score import Score

INSTALL = "pip install python-rtmidi"


class MidiUnavailable(CantorError):
    """No MIDI here: rtmidi missing, no such port, or the port cannot be opened."""


@dataclass(frozen=True)
class NoteEvent:
    """A key pressed (on) or released on a MIDI keyboard, at `seconds` on time.monotonic()."""

    pitch: int
    velocity: int
    on: bool
    seconds: float


def _apis() -> list[str]:
    """The rtmidi back ends worth asking on this system, most usual first."""
    try:
        import rtmidi
    except ImportError as exc:
        raise MidiUnavailable(f"MIDI needs python-rtmidi: {INSTALL}") from exc
    compiled = {rtmidi.get_api_name(a) for a in rtmidi.get_compiled_api()}
    wanted = []
    if sys.platform.startswith("linux"):
        if os.path.exists("/dev/snd/seq"):
            wanted.append("alsa")
        wanted.append("jack")
    elif sys.platform == "darwin":
        wanted.append("core")
    else:
        wanted.append("winmm")
    return [name for name in wanted if name in compiled]


_BACKEND_NAMES = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK", "core": "MACOSX_CORE",
                  "winmm": "WINDOWS_MM"}


def _backend(api: str):
    import mido

    os.environ.setdefault("JACK_NO_START_SERVER", "1")  # never start a server as a side effect
    return mido.Backend(f"mido.backends.rtmidi/{_BACKEND_NAMES[api]}", load=True)


def _names(api: str, kind: str) -> list[str]:
    backend = _backend(api)
    try:
        with quiet_stderr():  # JACK and ALSA print to fd 2 when no server is there
            return list(backend.get_input_names() if kind == "input"
                        else backend.get_output_names())
    except Exception:  # noqa: BLE001 - a back end without a server has no ports
        return []


def list_ports(kind: str = "input") -> list[str]:
    """Names of the MIDI `kind` ("input" or "output") ports this machine has now ([] if none)."""
    if kind not in ("input", "output"):
        raise ValueError(f"kind must be 'input' or 'output'; got {kind!r}")
    try:
        apis = _apis()
    except MidiUnavailable:
        return []
    found: list[str] = []
    for api in apis:
        found += [n for n in _names(api, kind) if n not in found]
    return found


def find_port(name: str, kind: str = "input") -> tuple[str, str]:
    """(back end, full port name) of the port `name` names exactly or by a unique part."""
    wanted = name.strip()
    if not wanted:
        raise MidiUnavailable(f"no MIDI {kind} port named")
    ports = [(api, port) for api in _apis() for port in _names(api, kind)]
    exact = [(api, port) for api, port in ports if port == wanted]
    matches = exact or [(api, port) for api, port in ports if wanted.lower() in port.lower()]
    if len(matches) == 1:
        return matches[0]
    names = list(dict.fromkeys(port for _, port in ports))
    if not matches:
        listed = ", ".join(names) if names else "none"
        raise MidiUnavailable(f"no MIDI {kind} port matches {wanted!r} (ports here: {listed})")
    raise MidiUnavailable(f"{wanted!r} matches several MIDI {kind} ports: "
                          + ", ".join(p for _, p in matches))


class NoteInput:
    """An open MIDI input port that calls `on_event(NoteEvent)` for every key pressed or released
    (note on with velocity 0 is a release), from its own thread: the callback must be quick and
    thread-safe (the composer posts a message).

    The port is read through python-rtmidi's queue, polled every POLL seconds, not through an
    rtmidi callback (which mido uses): with JACK, a callback that waits for a busy interpreter
    was measured to deliver the first key of a chord three times instead of the three keys.
    """

    POLL = 0.002

    def __init__(self, name: str, on_event: Callable[[NoteEvent], None]) -> None:
        api, self.name = find_port(name, "input")
        self._on_event = on_event
        self._rt = None
        try:
            import rtmidi

            self._rt = rtmidi.MidiIn(getattr(rtmidi, f"API_{_BACKEND_NAMES[api]}"), name="cantor")
            self._rt.ignore_types(sysex=True, timing=True, active_sense=True)
            self._rt.open_port(self._rt.get_ports().index(self.name), "keyboard")
        except Exception as exc:  # rtmidi raises SystemError; the port may vanish
            self.close()
            raise MidiUnavailable(f"cannot open MIDI input {self.name!r}: {exc}") from exc
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True, name="cantor-midi-in")
        self._thread.start()

    def _read(self) -> None:
        rt, halt = self._rt, self._halt
        last: float | None = None  # the time given to the message before
        while not halt.is_set():
            message = rt.get_message()
            if message is None:
                halt.wait(self.POLL)
                continue
            # rtmidi stamps each message with the time since the one before, when it arrived:
            # a burst read late (a busy machine) keeps its rhythm.
            data, delta = message
            now = time.monotonic()
            now = last = now if last is None else min(now, last + delta)
            if len(data) < 3:
                continue
            kind = data[0] & 0xF0
            if kind == 0x90:
                self._on_event(NoteEvent(data[1], data[2], data[2] > 0, now))
            elif kind == 0x80:
                self._on_event(NoteEvent(data[1], 0, False, now))

    def close(self) -> None:
        halt = getattr(self, "_halt", None)
        if halt is not None:
            halt.set()
            self._thread.join(1.0)
        rt, self._rt = self._rt, None
        if rt is not None:
            rt.close_port()
            rt.delete()

    def __enter__(self) -> NoteInput:  # noqa: PYI034
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def quantize_performance(events: list[NoteEvent], started: float, seconds_per_step: float,
                         steps: int) -> list[tuple[int, int, int]]:
    """One voice's (pitch, first step, end step) from notes played live, on the 16th grid.

    `started` is the time of step 0; onsets and releases round to the nearest step; a note lasts
    at least one step; a new key ends the one before (a voice sings one note at a time, and a
    legato player's overlaps are not chords); nothing reaches past `steps`.
    """
    held: dict[int, float] = {}
    played: list[tuple[float, float, int]] = []
    for event in sorted(events, key=lambda e: e.seconds):
        if event.on:
            held[event.pitch] = event.seconds
        elif event.pitch in held:
            played.append((held.pop(event.pitch), event.seconds, event.pitch))
    end_time = max((e.seconds for e in events), default=started)
    played += [(start, end_time, pitch) for pitch, start in held.items()]  # still held at stop
    notes: list[tuple[int, int, int]] = []
    for start, end, pitch in sorted(played):
        first = round((start - started) / seconds_per_step)
        last = max(first + 1, round((end - started) / seconds_per_step))
        first, last = max(0, first), min(steps, last)
        if first >= steps or last <= first:
            continue
        if notes and notes[-1][2] > first:  # the note before ends where this one starts
            pitch0, first0, _ = notes[-1]
            if first0 >= first:
                notes.pop()  # two keys on one step: the later one sounds
            else:
                notes[-1] = (pitch0, first0, first)
        notes.append((pitch, first, last))
    return notes


class MidiPlayer:
    """Plays steps of a score to a MIDI output port (a hardware synth, a DAW, a software synth)
    instead of FluidSynth: the same calls as engine.audio.playback.Player. Voices go to MIDI
    channels 1-4 with the score's programs."""

    TICK = 0.002  # seconds between checks of the clock in the sending thread
    # rtmidi queues what is sent and a back end's own thread delivers it (JACK: on its next
    # cycle); a port closed at once can drop the last note-offs and leave notes hanging on the
    # synth, so closing waits until this long after the last message.
    DRAIN = 0.15

    def __init__(self, name: str) -> None:
        api, self.name = find_port(name, "output")
        try:
            self._port = _backend(api).open_output(self.name)
        except Exception as exc:
            raise MidiUnavailable(f"cannot open MIDI output {self.name!r}: {exc}") from exc
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._finished = threading.Event()
        self._finished.set()
        self._position: int | None = None
        self._last_sent = 0.0
        self.failure: str | None = None

    def _send(self, message) -> None:
        self._port.send(message)
        self._last_sent = time.monotonic()

    def play(self, score: Score, start_step=0, end_step=None, *, loop=False, mute=(), solo=(),
             velocity: int = 80) -> None:
        schedule = Schedule(score, start_step, end_step, mute=mute, solo=solo, velocity=velocity,
                            sample_rate=1000)  # frames are milliseconds here
        with self._lock:
            self._stop_locked()
            if self._port is None:
                raise MidiUnavailable("this MIDI player is closed")
            self._halt, self._finished = threading.Event(), threading.Event()
            self.failure = None
            self._thread = threading.Thread(target=self._run, args=(schedule, loop, self._halt,
                                            self._finished), daemon=True, name="cantor-midi-out")
            self._thread.start()

    def _run(self, schedule, loop: bool, halt: threading.Event, finished: threading.Event) -> None:
        import mido

        sounding: set[tuple[int, int]] = set()
        try:
            for channel, program in enumerate(schedule.programs):
                self._send(mido.Message("program_change", channel=channel, program=program))
            while not halt.is_set():
                began = time.monotonic()
                for ms, kind, voice, pitch, vel in schedule.events:
                    while not halt.is_set():
                        now = (time.monotonic() - began) * 1000
                        self._position = schedule.step_at(now)
                        if now >= ms:
                            break
                        time.sleep(min(self.TICK, (ms - now) / 1000))
                    if halt.is_set():
                        break
                    on = kind == NOTE_ON
                    message = "note_on" if on else "note_off"
                    self._send(mido.Message(message, channel=voice, note=pitch,
                                            velocity=vel if on else 0))
                    (sounding.add if on else sounding.discard)((voice, pitch))
                while not halt.is_set() and (time.monotonic() - began) * 1000 < schedule.end_frame:
                    self._position = schedule.step_at((time.monotonic() - began) * 1000)
                    time.sleep(self.TICK)
                if not loop:
                    break
        except Exception as exc:  # noqa: BLE001 - a port unplugged mid-play
            self.failure = f"MIDI output {self.name!r} stopped: {exc}"
        finally:
            for voice, pitch in sounding:
                try:
                    self._send(mido.Message("note_off", channel=voice, note=pitch))
                except Exception:  # noqa: BLE001, S110 - the port is gone; nothing to silence
                    pass
            self._position = None
            finished.set()

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        self._halt.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(2.0)

    def position(self) -> int | None:
        return self._position if self.is_playing else None

    @property
    def is_playing(self) -> bool:
        return self._thread is not None and not self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def close(self) -> None:
        with self._lock:
            self._stop_locked()
            port, self._port = self._port, None
        if port is not None:
            time.sleep(max(0.0, self._last_sent + self.DRAIN - time.monotonic()))
            port.close()

    def __enter__(self) -> MidiPlayer:  # noqa: PYI034
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
