"""Sound: FluidSynth rendering to numpy/WAV, and live playback through a sounddevice stream.

Scores count 16th-note steps; seconds exist only here (and in engine/audio/synth.py, its helper).
Everything native is imported lazily: without libfluidsynth, PortAudio or an output device the
calls raise AudioUnavailable with the install command, or point to `cantor render`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from engine.audio.sink import NO_DEVICE, TARGET_LATENCY, PulseOutput, configured_server
from engine.audio.soundfont import SoundFontError, find_soundfont
from engine.audio.synth import (
    DEFAULT_VELOCITY,
    NOTE_ON,
    SAMPLE_RATE,
    TAIL_SECONDS,
    Schedule,
    Synth,
    detach_native_stderr,
    load_sounddevice,
    quiet_stderr,
)
from engine.errors import AudioUnavailable, CantorError
from engine.fileio import atomic_open, checked_output
from engine.music.score import Score

__all__ = [
    "AudioUnavailable",
    "Player",
    "SoundFontError",
    "WavFileError",
    "detach_native_stderr",
    "find_soundfont",
    "render",
    "render_wav",
]

# Offline rendering synthesizes voice groups in parallel (about twice as fast on two cores).
RENDER_THREADS = max(1, min(4, os.cpu_count() or 1))
WAV_CHUNK = 1 << 18  # frames converted to 16-bit at a time


class WavFileError(CantorError):
    """A WAV file cannot be written where it was asked for."""


def render(
    score: Score,
    start: int | None = None,
    end: int | None = None,
    *,
    soundfont=None,
    mute=(),
    solo=(),
    velocity: int = DEFAULT_VELOCITY,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Steps [start, end) of the score as float32 stereo frames (frames, 2), plus a release tail."""
    schedule = Schedule(
        score, start, end, mute=mute, solo=solo, velocity=velocity, sample_rate=sample_rate
    )
    path = find_soundfont(soundfont)
    total = schedule.end_frame + round(TAIL_SECONDS * sample_rate)
    voices = sorted({event[2] for event in schedule.events})
    # Voices are split over synths in threads (ctypes releases the GIL while FluidSynth mixes):
    # FluidSynth's own multi-core mixing is faster still but not deterministic.
    groups = [voices[i :: RENDER_THREADS] for i in range(min(RENDER_THREADS, len(voices)))] or [[]]

    def part(group: list[int]) -> np.ndarray:
        return _render_voices(schedule, path, set(group), total, sample_rate)

    if len(groups) == 1:
        return part(groups[0])
    with ThreadPoolExecutor(len(groups)) as pool:
        parts = list(pool.map(part, groups))
    out = parts[0]
    for other in parts[1:]:  # a fixed order, so the sum is the same every time
        out += other
    return out


def _render_voices(schedule: Schedule, soundfont: Path, voices: set[int], total: int,
                   sample_rate: int) -> np.ndarray:
    """The given voices' events through one synthesizer, `total` frames long."""
    synth = Synth(soundfont, sample_rate)
    try:
        synth.set_programs(schedule.programs)
        out = np.zeros((total, 2), dtype=np.float32)
        done = 0
        for frame, kind, voice, pitch, vel in schedule.events:
            if voice not in voices:
                continue
            synth.write(out, done, frame - done)
            done = frame
            if kind == NOTE_ON:
                synth.note_on(voice, pitch, vel)
            else:
                synth.note_off(voice, pitch)
        synth.write(out, done, total - done)
        return out
    finally:
        synth.close()


def write_wav(samples: np.ndarray, path, sample_rate: int = SAMPLE_RATE) -> Path:
    """Float stereo frames -> 16-bit PCM WAV, written atomically (temp file + rename)."""
    path = Path(path)
    with (
        atomic_open(path, "WAV file", error=WavFileError, mode=0o644) as handle,
        wave.open(handle, "wb") as wav,
    ):
        wav.setnchannels(samples.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        for at in range(0, len(samples), WAV_CHUNK):  # in pieces: long scores stay lean
            piece = np.clip(samples[at : at + WAV_CHUNK], -1.0, 1.0) * 32767.0
            wav.writeframes(np.round(piece).astype("<i2").tobytes())
    return path


def render_wav(score: Score, path, **kwargs) -> Path:
    """Render like `render` and write a 16-bit stereo WAV atomically; returns the path."""
    path = checked_output(path, "WAV file", error=WavFileError)  # before rendering: a typo costs nothing
    samples = render(score, **kwargs)
    return write_wav(samples, path, kwargs.get("sample_rate", SAMPLE_RATE))


class _Session:
    """One play() call: the schedule and how far the audio callback has got through it."""

    def __init__(self, schedule: Schedule, synth: Synth, loop: bool, sample_rate: int,
                 started_at: float, callback_stop: type[Exception]):
        self.schedule, self.synth, self.loop = schedule, synth, loop
        self.callback_stop = callback_stop  # sounddevice.CallbackStop: ends the stream cleanly
        self.frame = 0  # frames rendered of the current pass through [start, end)
        self.next_event = 0
        self.passes = 0  # completed loops
        self.tail_left = round(TAIL_SECONDS * sample_rate)
        self.in_tail = False
        self.finished = threading.Event()
        self.started_at = started_at
        self.first_callback_at: float | None = None
        self.latency_frames = 0
        self.halted = False  # set when stopping: the next callback ends the stream itself

    def callback(self, outdata, frames, _time, _status) -> None:
        """PortAudio's thread asks for `frames` frames: synthesize them, firing due events."""
        if self.halted:
            outdata[:] = 0
            raise self.callback_stop
        if self.first_callback_at is None:
            self.first_callback_at = time.perf_counter()
        schedule, synth, events = self.schedule, self.synth, self.schedule.events
        done = 0
        while done < frames:
            if self.in_tail:
                chunk = min(frames - done, self.tail_left)
                synth.write(outdata, done, chunk)
                done += chunk
                self.tail_left -= chunk
                if self.tail_left <= 0:
                    outdata[done:] = 0
                    raise self.callback_stop
                continue
            while self.next_event < len(events) and events[self.next_event][0] <= self.frame:
                _, kind, voice, pitch, vel = events[self.next_event]
                if kind == NOTE_ON:
                    synth.note_on(voice, pitch, vel)
                else:
                    synth.note_off(voice, pitch)
                self.next_event += 1
            limit = schedule.end_frame
            if self.next_event < len(events):
                limit = min(limit, events[self.next_event][0])
            chunk = min(frames - done, limit - self.frame)
            synth.write(outdata, done, chunk)
            done += chunk
            self.frame += chunk
            if self.frame >= schedule.end_frame:
                synth.release_all()
                if self.loop:
                    self.frame, self.next_event = 0, 0
                    self.passes += 1
                else:
                    self.in_tail = True

    def position(self) -> int | None:
        """The step being heard: frames rendered minus what still sits in the output buffer."""
        if self.finished.is_set():
            return None
        schedule = self.schedule
        heard = self.frame - self.latency_frames
        if self.in_tail:
            heard = schedule.end_frame
        elif heard < 0:
            heard = heard + schedule.end_frame if self.passes else 0
        return schedule.step_at(heard)


_MAIN_THREAD_SIGNALS = {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                        if hasattr(signal, name)}


@contextmanager
def _signals_stay_with_this_thread():
    """Block Ctrl-C and friends while native threads are created, so that they inherit the mask.

    The kernel hands a process signal to any thread that does not block it. Kept off PortAudio's
    thread, Ctrl-C always reaches the main thread (where Python handles it) and never interrupts
    a system call of the audio thread.
    """
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _MAIN_THREAD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _DeviceOutput:
    """This machine's output device through a sounddevice (PortAudio) stream."""

    def __init__(self, sample_rate: int, device=None):
        self._sd = load_sounddevice()
        try:
            with quiet_stderr():
                self._sd.query_devices(device, kind="output")
        except (ValueError, self._sd.PortAudioError):
            raise AudioUnavailable(NO_DEVICE) from None
        self.sample_rate, self._device = sample_rate, device
        self.callback_stop = self._sd.CallbackStop  # ends the stream cleanly
        self.failure: str | None = None
        self._stream = None
        self._session: _Session | None = None

    def start(self, session: _Session) -> None:
        stream = None
        try:
            with quiet_stderr(), _signals_stay_with_this_thread():
                stream = self._sd.OutputStream(
                    samplerate=self.sample_rate, channels=2, dtype="float32",
                    device=self._device, callback=session.callback,
                    finished_callback=session.finished.set,
                )
                session.latency_frames = round(stream.latency * self.sample_rate)
                stream.start()
        except self._sd.PortAudioError as exc:
            if stream is not None:
                stream.close(ignore_errors=True)
            raise AudioUnavailable(
                f"the audio device cannot be opened ({exc}): write a WAV instead with"
                " `cantor render IN.mid -o OUT.wav`"
            ) from None
        self._stream, self._session = stream, session

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        session, self._session = self._session, None
        if stream is not None:
            # Not stream.abort(): PortAudio's ALSA backend aborts by pthread_cancel, which can
            # land while its thread waits for the GIL inside the Python callback (a cancellation
            # point) and leave the GIL locked for good: `cantor play` hung after Ctrl-C on a busy
            # machine. The callback ends the stream itself (halted), and stop() joins the thread
            # without cancelling it, so the synth is ours again when it returns.
            if session is not None:
                session.halted = True
            with quiet_stderr():
                stream.stop()
                stream.close()

    close = stop


class Player:
    """Plays steps of a score without blocking the caller: through a pulse-protocol server when
    one is named (`server`, else $PULSE_SERVER; e.g. a laptop's, through an SSH tunnel),
    otherwise through this machine's default output device."""

    def __init__(self, soundfont=None, *, sample_rate: int = SAMPLE_RATE, device=None,
                 server: str | None = None, latency: float = TARGET_LATENCY):
        """`latency`: seconds of sound queued at a pulse server (more survives a slow link)."""
        self.soundfont = find_soundfont(soundfont)
        self.sample_rate = sample_rate
        self.server = configured_server(server)
        self._synth = Synth(self.soundfont, sample_rate)
        try:
            if self.server:
                self._output = PulseOutput(self.server, sample_rate, latency)
            else:
                self._output = _DeviceOutput(sample_rate, device)
        except AudioUnavailable:
            self._synth.close()
            raise
        self._session: _Session | None = None
        self._lock = threading.Lock()

    def play(self, score: Score, start_step=0, end_step=None, *, loop=False, mute=(), solo=(),
             velocity: int = DEFAULT_VELOCITY) -> None:
        """Start playing steps [start_step, end_step) (looping if asked); returns at once."""
        started_at = time.perf_counter()
        schedule = Schedule(score, start_step, end_step, mute=mute, solo=solo,
                            velocity=velocity, sample_rate=self.sample_rate)
        with self._lock:
            self._stop_locked()
            if self._synth is None:
                raise AudioUnavailable("this player is closed: create a new Player")
            self._synth.set_programs(schedule.programs)
            session = _Session(schedule, self._synth, loop, self.sample_rate, started_at,
                               self._output.callback_stop)
            self._output.start(session)
            self._session = session

    def stop(self) -> None:
        """Stop at once (pending audio is dropped)."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        session, self._session = self._session, None
        self._output.stop()
        if session is not None:
            session.finished.set()
        if self._synth is not None:
            self._synth.silence()

    def position(self) -> int | None:
        """The step being heard while playing, else None."""
        session = self._session
        return None if session is None else session.position()

    @property
    def is_playing(self) -> bool:
        session = self._session
        return session is not None and not session.finished.is_set()

    @property
    def failure(self) -> str | None:
        """Why the sound stopped by itself (e.g. the tunnel closed), until the next play()."""
        return self._output.failure

    def first_callback_seconds(self) -> float | None:
        """Time from the last play() call to the stream's first callback (for benchmarks)."""
        session = self._session
        if session is None or session.first_callback_at is None:
            return None
        return session.first_callback_at - session.started_at

    def wait(self, timeout: float | None = None) -> bool:
        """Block until playback ends (True) or the timeout passes (False)."""
        session = self._session
        return True if session is None else session.finished.wait(timeout)

    def close(self) -> None:
        """Stop and free the synthesizer and the output."""
        with self._lock:
            self._stop_locked()
            self._output.close()
            if self._synth is not None:
                self._synth.close()
                self._synth = None

    def __enter__(self) -> Player:  # noqa: PYI034
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
