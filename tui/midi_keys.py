"""A MIDI keyboard in the composer (screen mixin): step entry and real-time recording.

- Step entry: a key enters its note at the cursor in the current voice with the entry length and
  steps on, as a typed letter does but with the exact pitch; keys struck together are a chord,
  the highest note in the current voice and the others in the voices below it.
- Recording (ctrl+r): after a bar of count-in (the status line counts the beats), the other
  voices play from the cursor and what is played goes into the current voice, quantized to 16ths,
  until ctrl+r again (keep: one undo step) or Esc (discard) or the end of the score.

The port is the settings' "MIDI keyboard", opened in a thread after the first frame (a missing
port says so once and never slows the start); rtmidi's callbacks arrive as messages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from textual import work
from textual.message import Message

from engine.errors import CantorError
from engine.music.score import VOICE_NAMES
from tui.editing import range_warning

CHORD_SECONDS = 0.04  # keys struck within this time of the first one make one chord
RECORD_TICK = 1 / 20


class MidiNote(Message):
    def __init__(self, event) -> None:
        super().__init__()
        self.event = event


class MidiConnected(Message):
    def __init__(self, port=None, error: str | None = None) -> None:
        super().__init__()
        self.port, self.error = port, error


@dataclass
class Recording:
    """A take in progress: step `start` of `voice` sounds at monotonic time `started`."""

    voice: int
    start: int
    end: int
    started: float
    seconds_per_step: float
    steps_per_beat: int
    events: list = field(default_factory=list)

    def step_at(self, now: float) -> float:
        return self.start + (now - self.started) / self.seconds_per_step


class MidiActions:
    _midi_input = None
    _chord: list[int] | None = None
    recording: Recording | None = None
    _record_timer = None

    # --- the port -------------------------------------------------------------------------

    def connect_midi(self) -> None:
        """(Re)open the settings' MIDI keyboard in a thread; no name closes it."""
        self.disconnect_midi()
        name = getattr(self.app.settings, "midi_input", "")
        if name:
            self._open_midi(name)

    @work(thread=True, exclusive=True, group="midi-in", exit_on_error=False)
    def _open_midi(self, name: str) -> None:
        try:
            from engine.audio.midi_ports import NoteInput

            port = NoteInput(name, lambda event: self.post_message(MidiNote(event)))
        except CantorError as exc:
            self.post_message(MidiConnected(error=str(exc)))
        except Exception as exc:  # noqa: BLE001 - no keyboard is never fatal
            self.post_message(MidiConnected(error=f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(MidiConnected(port))

    def on_midi_connected(self, message: MidiConnected) -> None:
        if message.error:
            self.app.notify(message.error, title="No MIDI keyboard", severity="warning", timeout=8)
            return
        self.disconnect_midi()
        self._midi_input = message.port
        self.app.notify(f"MIDI keyboard: {message.port.name}. Keys enter notes; ctrl+r records.",
                        timeout=4)

    def disconnect_midi(self) -> None:
        port, self._midi_input = self._midi_input, None
        if port is not None:
            port.close()

    # --- step entry -------------------------------------------------------------------------

    def on_midi_note(self, message: MidiNote) -> None:
        event = message.event
        if self.recording is not None:
            self.recording.events.append(event)
            return
        if not event.on:
            return
        if not self._chord:
            self._chord = []
            self.set_timer(CHORD_SECONDS, self._enter_chord)
        self._chord.append(event.pitch)

    def _enter_chord(self) -> None:
        pitches, self._chord = self._chord or [], None
        if not pitches or not self._editable():
            return
        try:
            voices = self.doc.put_chord(pitches)
        except CantorError as exc:
            self.app.notify(str(exc), title="Cannot do that", severity="warning")
            return
        self._edited()
        warnings = [range_warning(v, int(self.doc.score.pitches[v, self.doc.step - 1]))
                    for v in voices]
        if len(pitches) > len(voices):
            warnings.append(f"{len(pitches)} keys, {len(voices)} voices from the "
                            f"{VOICE_NAMES[voices[0]].lower()} down: the lowest were left out")
        warnings = [w for w in warnings if w]
        if warnings:
            self.app.notify("\n".join(warnings), title="MIDI keys", severity="warning", timeout=4)

    # --- recording ---------------------------------------------------------------------------

    def action_record(self) -> None:
        if self.recording is not None:
            self.finish_recording(keep=True)
            return
        if self._midi_input is None:
            self.app.notify("No MIDI keyboard: name its port in the settings (,) first.",
                            title="Record", timeout=5)
            return
        if not self._editable():
            return
        self.stop_playback()
        score, doc = self.doc.score, self.doc
        count_in = score.steps_per_bar * score.seconds_per_step
        self.recording = Recording(doc.voice, doc.step, score.num_steps,
                                   time.monotonic() + count_in, score.seconds_per_step,
                                   score.steps_per_beat)
        self.set_timer(count_in, self._accompany_take)
        self._record_timer = self.set_interval(RECORD_TICK, self._recording_tick)
        self.update_status()

    def _accompany_take(self) -> None:
        """The count-in is over: the other voices play from the cursor (when there is sound)."""
        take = self.recording
        if take is None:
            return
        score = self.doc.score
        pitches, onsets = score.pitches.copy(), score.onsets.copy()
        pitches[take.voice, take.start:], onsets[take.voice, take.start:] = -1, False
        if (pitches[:, take.start:] >= 0).any():
            self.play_score(score.replace(pitches=pitches, onsets=onsets), take.start, None)

    def _recording_tick(self) -> None:
        take = self.recording
        if take is None:
            return
        step = take.step_at(time.monotonic())
        if step >= take.end:
            self.finish_recording(keep=True)
            return
        if step >= take.start and not self._playing:
            self.roll.playhead = int(step)
            self.roll.refresh()
        self.update_status()

    def recording_text(self) -> str:
        """The status line's mode while recording: the count-in, then where the take is."""
        take = self.recording
        if take is None:
            return ""
        now = time.monotonic()
        if now < take.started:
            beats = int((take.started - now) / (take.seconds_per_step * take.steps_per_beat)) + 1
            return f"COUNT-IN {beats} (ctrl+r keeps, esc drops)"
        notes = sum(1 for e in take.events if e.on and e.seconds >= take.started)
        step = int(take.step_at(now))
        return f"RECORDING {self.doc.score.location_text(step)} {notes} notes (ctrl+r keeps)"

    def finish_recording(self, keep: bool) -> None:
        """End the take: write it into its voice (one undo step), or drop it."""
        take, self.recording = self.recording, None
        if take is None:
            return
        if self._record_timer is not None:
            self._record_timer.stop()
            self._record_timer = None
        self.stop_playback()
        if not keep:
            self.app.notify("Recording dropped: the score is as it was.", timeout=3)
            return
        from engine.audio.midi_ports import quantize_performance

        span = min(take.end, round(take.step_at(time.monotonic()))) - take.start
        notes = quantize_performance(take.events, take.started, take.seconds_per_step, span)
        if span <= 0 or not notes:
            self.app.notify("Nothing recorded: the score is as it was.", timeout=3)
            self.update_status()
            return
        if self._edit(self.doc.write_voice, take.voice, take.start, take.start + span, notes):
            name = VOICE_NAMES[take.voice].lower()
            self.app.notify(f"Recorded {len(notes)} notes into the {name} (u undoes).", timeout=4)
