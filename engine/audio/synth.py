"""FluidSynth for engine/audio/playback.py: lazy native imports, a quiet synth, and steps -> sample frames.

pyfluidsynth and sounddevice are imported on first use, so the rest of cantor works without them;
when missing, AudioUnavailable says what to install. Like engine/audio/playback.py, this is a place where
seconds exist: a step starts at frame round(step * seconds_per_step * sample_rate).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
import threading
from pathlib import Path

import numpy as np

from engine.audio.soundfont import SoundFontError
from engine.errors import AudioUnavailable, ScoreError
from engine.music.score import NUM_VOICES, Score

SAMPLE_RATE = 44_100
TAIL_SECONDS = 0.6  # release tail rendered after the last step so final notes die away naturally
GAIN = 0.5  # FluidSynth master gain: four voices at forte stay clear of clipping
DEFAULT_VELOCITY = 90
NOTE_OFF, NOTE_ON = 0, 1  # note-offs sort first, so a repeated note is released then struck

_stderr_lock = threading.RLock()
_detached = False  # True once fd 2 points to /dev/null for good (see detach_native_stderr)
_quieted: list[int] = []  # the terminal's descriptors saved by the quiet_stderr blocks now open


@contextlib.contextmanager
def quiet_stderr():
    """Send file descriptor 2 to /dev/null for a while, so C libraries' chatter stays off screen.

    Only for command-line use: a full-screen app that draws on stderr (Textual does) must call
    `detach_native_stderr()` before it starts, after which this does nothing.
    """
    with _stderr_lock:
        if _detached:
            yield
            return
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (AttributeError, ValueError, OSError):  # no usable stderr: nothing to protect
            yield
            return
        _quieted.append(saved)
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
            yield
        finally:
            _quieted.pop()
            if not _detached:  # detached meanwhile (same thread): fd 2 stays on /dev/null
                os.dup2(saved, 2)
            os.close(saved)


def detach_native_stderr() -> None:
    """Point fd 2 at /dev/null for the rest of the process; Python's stderr keeps the terminal.

    C libraries (FluidSynth, GLib, ALSA, JACK) write to fd 2 from any thread at any time. A TUI
    calls this once before it starts: sys.stderr and sys.__stderr__ move to a copy of the
    original descriptor, so the screen and Python tracebacks still reach the terminal.
    """
    global _detached
    with _stderr_lock:
        if _detached:
            return
        original = sys.__stderr__
        if original is None:
            return
        original.flush()
        # Inside quiet_stderr (this thread holds the lock), fd 2 is /dev/null for now: the
        # terminal is the descriptor it saved.
        terminal = os.fdopen(
            os.dup(_quieted[0] if _quieted else 2), "w", buffering=1,
            encoding=getattr(original, "encoding", None) or "utf-8",
            errors=getattr(original, "errors", None) or "backslashreplace",
        )
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        if sys.stderr is original:
            sys.stderr = terminal
        sys.__stderr__ = terminal
        _detached = True


# --- the native libraries, imported on first use --------------------------------------------

_fluidsynth_module = None


def load_fluidsynth():
    """The pyfluidsynth module with FluidSynth's own logging switched off."""
    global _fluidsynth_module
    if _fluidsynth_module is not None:
        return _fluidsynth_module
    try:
        # pyfluidsynth prints where it found the library when $CI is set; that line must
        # reach neither a command's stdout nor the composer's screen.
        with quiet_stderr(), contextlib.redirect_stdout(io.StringIO()):
            import fluidsynth
    except ImportError as exc:
        if getattr(exc, "name", None) == "fluidsynth":
            raise AudioUnavailable(
                "the Python package pyfluidsynth is missing: install it with"
                " `pip install pyfluidsynth`"
            ) from None
        raise AudioUnavailable(
            "the FluidSynth library (libfluidsynth) is not installed: install it with"
            " `sudo apt-get install libfluidsynth3`"
        ) from None
    except OSError as exc:
        raise AudioUnavailable(
            f"the FluidSynth library cannot be loaded ({exc}): reinstall it with"
            " `sudo apt-get install --reinstall libfluidsynth3`"
        ) from None
    # A NULL log function silences a level (FLUID_PANIC=0 .. FLUID_DBG=4).
    set_log = getattr(fluidsynth._fl, "fluid_set_log_function", None)
    if set_log is not None:
        set_log.restype = ctypes.c_void_p
        set_log.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        for level in range(5):
            set_log(level, None, None)
    write = fluidsynth._fl.fluid_synth_write_float
    write.restype = ctypes.c_int
    # (synth, frames, left, left offset, left stride, right, right offset, right stride)
    channel = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    write.argtypes = [ctypes.c_void_p, ctypes.c_int, *channel, *channel]
    _fluidsynth_module = fluidsynth
    return fluidsynth


def load_sounddevice():
    """The sounddevice module (which loads PortAudio)."""
    try:
        with quiet_stderr():  # PortAudio's ALSA probing prints to stderr
            import sounddevice
    except ImportError:
        raise AudioUnavailable(
            "the Python package sounddevice is missing: install it with `pip install sounddevice`,"
            " or write a WAV with `cantor render`"
        ) from None
    except OSError:
        raise AudioUnavailable(
            "the PortAudio library is not installed: install it with"
            " `sudo apt-get install libportaudio2`, or write a WAV with `cantor render`"
        ) from None
    return sounddevice


# --- a synthesizer with one channel per voice -----------------------------------------------


class Synth:
    """A FluidSynth instance with a SoundFont loaded; voice v plays on MIDI channel v."""

    def __init__(self, soundfont: Path, sample_rate: int):
        fluidsynth = load_fluidsynth()
        self._write_float = fluidsynth._fl.fluid_synth_write_float
        with quiet_stderr():
            # Samples load when a preset is first used: a 140 MB GM font opens in milliseconds.
            self._synth = fluidsynth.Synth(
                gain=GAIN,
                samplerate=float(sample_rate),
                channels=16,
                # FluidSynth's own multi-core mixing ("synth.cpu-cores") is not deterministic.
                **{"synth.dynamic-sample-loading": 1},
            )
            self.sfid = self._synth.sfload(str(soundfont))
        if self.sfid < 0:
            self._synth.delete()
            raise SoundFontError(
                f"SoundFont {soundfont} could not be loaded by FluidSynth (damaged or not a SoundFont)"
            )
        self.soundfont = soundfont
        self._handle = ctypes.c_void_p(self._synth.synth)
        self._programs: tuple[int, ...] | None = None

    def set_programs(self, programs: tuple[int, ...]) -> None:
        """GM program per voice; a SoundFont without it plays preset `voice` (or its first one)."""
        if programs == self._programs:
            return
        for voice, program in enumerate(programs):  # (FluidSynth's log is off: no fd games here)
            if self._synth.program_select(voice, self.sfid, 0, program) == 0:
                continue
            # The tiny SoundFont has just presets 0..3, one timbre per voice.
            for fallback in (voice, *range(128)):
                if self._synth.program_select(voice, self.sfid, 0, fallback) == 0:
                    break
        self._programs = programs

    def note_on(self, channel: int, key: int, velocity: int) -> None:
        self._synth.noteon(channel, key, velocity)

    def note_off(self, channel: int, key: int) -> None:
        self._synth.noteoff(channel, key)

    def release_all(self) -> None:
        """Note-off on every voice's channel (release tails still sound)."""
        for channel in range(NUM_VOICES):
            self._synth.all_notes_off(channel)

    def silence(self) -> None:
        """Cut every sound at once, tails included."""
        for channel in range(NUM_VOICES):
            self._synth.all_sounds_off(channel)

    def write(self, out: np.ndarray, offset: int, frames: int) -> None:
        """Synthesize `frames` stereo frames into out[offset:offset+frames] (float32, C order)."""
        if frames <= 0:
            return
        address = out.ctypes.data + offset * out.strides[0]
        self._write_float(self._handle, frames, address, 0, 2, address + 4, 0, 2)

    def close(self) -> None:
        if self._synth is not None:
            self._synth.delete()
            self._synth = None


# --- from steps to sample frames ------------------------------------------------------------


def _audible_voices(mute, solo) -> set[int]:
    for voice in (*mute, *solo):
        if not 0 <= int(voice) < NUM_VOICES:
            raise ScoreError(f"voice must be in range 0..3 (S, A, T, B); got {voice}")
    chosen = {int(v) for v in solo} if solo else set(range(NUM_VOICES))
    return chosen - {int(v) for v in mute}


def _step_range(score: Score, start: int | None, end: int | None) -> tuple[int, int]:
    start = 0 if start is None else int(start)
    end = score.num_steps if end is None else int(end)
    if not 0 <= start < end <= score.num_steps:
        raise ScoreError(
            f"playback range must satisfy 0 <= start < end <= {score.num_steps} steps;"
            f" got {start}..{end}"
        )
    return start, end


class Schedule:
    """Note events of score steps [start, end) as sample frames counted from `start`."""

    def __init__(self, score, start, end, *, mute, solo, velocity, sample_rate):
        if not 1 <= int(velocity) <= 127:
            raise ScoreError(f"velocity must be in range 1..127; got {velocity}")
        self.start_step, self.end_step = _step_range(score, start, end)
        self.frames_per_step = score.seconds_per_step * sample_rate
        self.programs = score.programs
        excerpt = score.slice(self.start_step, self.end_step)  # a note cut at start is struck
        events = []
        for voice in sorted(_audible_voices(mute, solo)):
            for step, length, pitch in excerpt.notes(voice):
                on, off = self.frame(step), self.frame(step + length)
                events.append((on, NOTE_ON, voice, pitch, int(velocity)))
                events.append((off, NOTE_OFF, voice, pitch, 0))
        events.sort()
        self.events = events
        self.end_frame = self.frame(self.end_step - self.start_step)

    def frame(self, steps: int) -> int:
        return round(steps * self.frames_per_step)

    def step_at(self, frame: int) -> int:
        """The score step sounding at `frame` frames after the start."""
        within = min(int(frame // self.frames_per_step), self.end_step - self.start_step - 1)
        return self.start_step + max(0, within)
