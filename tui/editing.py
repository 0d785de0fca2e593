"""Keyboard editing actions of the editor screen: moves, notes, selection, clipboard, undo."""

from __future__ import annotations

from engine.errors import CantorError
from engine.music.analysis import key_description
from engine.music.counterpoint import RANGES
from engine.music.pianoroll import MODEL_HIGH, MODEL_LOW
from engine.music.score import VOICE_NAMES
from tui.document import NOTE_LETTERS, Document
from tui.screens.prompt import Choice
from tui.widgets.pianoroll import pitch_name


def typed_pitch(letter: str, reference: int) -> tuple[int, str | None]:
    """The note `letter` nearest `reference` (as MuseScore does), kept in the model's range.

    Returns (pitch, message): the message says when the nearest octave did not fit the model.
    """
    pc = NOTE_LETTERS[letter.lower()]
    below = reference - (reference - pc) % 12
    # A tritone away either way: the lower note, as the nearer one to most voices' middle.
    nearest = below if reference - below <= 6 else below + 12
    if MODEL_LOW <= nearest <= MODEL_HIGH:
        return nearest, None
    fitted = nearest + 12 if nearest < MODEL_LOW else nearest - 12
    side = "below" if nearest < MODEL_LOW else "above"
    return fitted, (
        f"{pitch_name(nearest)} is {side} the model's range"
        f" {pitch_name(MODEL_LOW)}-{pitch_name(MODEL_HIGH)}: entered {pitch_name(fitted)}"
    )


def range_warning(voice: int, pitch: int) -> str | None:
    """A sentence when `pitch` lies outside the voice's usual range (engine.music.counterpoint)."""
    low, high = RANGES[voice]
    if low <= pitch <= high:
        return None
    side = "below" if pitch < low else "above"
    return (
        f"{pitch_name(pitch)} is {side} the {VOICE_NAMES[voice].lower()}'s range"
        f" {pitch_name(low)}-{pitch_name(high)}"
    )


class EditingActions:
    """Mixed into the editor screen; `self.doc` is the Document, `self.roll` the PianoRoll."""

    doc: Document

    # --- helpers --------------------------------------------------------------------------

    def _moved(self) -> None:
        self.roll.cursor_changed()
        self.update_status()

    def _snapped(self) -> None:
        """After a sideways move: the cursor pitch is the note under the cursor, if any."""
        note = self.doc.note_at(self.doc.voice, self.doc.step)
        if note is not None:
            self.doc.pitch = note[2]
        self._moved()

    def _edit_target(self) -> tuple[int, int, int] | None:
        """The note `< > K J` act on: under the cursor, else the one just typed."""
        return self.doc.target_note()

    def _previous_pitch(self) -> int:
        """The last note of the current voice before the cursor, else the cursor pitch."""
        doc = self.doc
        row = doc.score.pitches[doc.voice, : doc.step]
        sounding = (row >= 0).nonzero()[0]
        return int(row[sounding[-1]]) if sounding.size else doc.pitch

    def _warn_range(self, pitch: int) -> None:
        warning = range_warning(self.doc.voice, pitch)
        if warning:
            self.app.notify(warning, title="Out of range", severity="warning", timeout=3)

    def _edited(self) -> None:
        self.roll.invalidate()
        self.roll.scroll_to_cursor()
        self.update_status()
        self.after_edit()

    def _editable(self) -> bool:
        """Edits wait while the model is working or variants are on show."""
        if self.busy:
            self.app.notify("The model is working: Esc cancels it.", severity="warning", timeout=2)
            return False
        if self.variants_showing:
            self.app.notify("Accept (enter) or discard (Esc) the variants first.", timeout=2)
            return False
        if getattr(self, "recording", None) is not None:
            self.app.notify("Recording: ctrl+r keeps the take, Esc drops it.", timeout=2)
            return False
        return True

    def _edit(self, change, *args) -> bool:
        """Run a document edit, reporting a user error instead of raising it; True if it ran."""
        if not self._editable():
            return False
        try:
            changed = change(*args)
        except CantorError as exc:
            self.app.notify(str(exc), title="Cannot do that", severity="warning")
            return False
        if changed is not False:
            self._edited()
        return changed is not False

    # --- moves ----------------------------------------------------------------------------

    def action_move(self, steps: int, semitones: int) -> None:
        self.doc.move(steps, semitones)
        if steps:
            self._snapped()
        else:
            self._moved()

    def action_beats(self, count: int) -> None:
        self._grid_move(self.doc.move_beats, count)

    def action_bars(self, count: int) -> None:
        self._grid_move(self.doc.move_bars, count)

    def _grid_move(self, move, count: int) -> None:
        """Jump by beats or bars; a selection growing forward stops before the next grid line,
        so `v }` selects exactly one bar (16 steps in 4/4), not 17. A whole-bar selection (`V`)
        covers the cursor's bar anyway, so there the cursor simply moves: `V }` selects two bars."""
        doc = self.doc
        if doc.anchor is None or doc.whole_bars or count < 0 or doc.step < doc.anchor[0]:
            move(count)
        else:
            doc.goto(doc.step + 1)
            move(count)
            if doc.step < doc.score.num_steps - 1:
                doc.goto(doc.step - 1)
        self._snapped()

    def action_goto_start(self) -> None:
        self.doc.goto(0)
        self._snapped()

    def action_goto_end(self) -> None:
        self.doc.goto(self.doc.score.num_steps - 1)
        self._snapped()

    def action_voice(self, voice: int) -> None:
        self.doc.set_voice(voice)
        self._moved()

    def action_cycle_voice(self, delta: int) -> None:
        self.doc.set_voice(self.doc.voice + delta)
        self._moved()

    def action_compose(self) -> None:
        """ctrl+n writes a new piece over this one: ask first."""

        def answered(key: str) -> None:
            if key == "y":
                super(EditingActions, self).action_compose()

        score = self.doc.score
        num, den = score.time_signature
        key = f"in {key_description(score.key)}" if score.key else "in a key drawn for it"
        self.app.push_screen(
            Choice(
                f"Compose a new score of 8 bars of {num}/{den} {key}, with phrase ends and a"
                " tonic close? Its variants replace this one when you accept one (u undoes that).",
                {"y": "compose"},
            ),
            answered,
        )

    # --- notes ----------------------------------------------------------------------------

    def action_note(self, letter: str) -> None:
        if not self._editable():
            return
        pitch, message = typed_pitch(letter, self._previous_pitch())
        if not self._edit(self.doc.put_note, pitch):
            return
        if message:
            self.app.notify(message, title="Out of range", severity="warning", timeout=3)
        else:
            self._warn_range(pitch)

    def action_put_note(self) -> None:
        pitch = self.doc.pitch
        if self._edit(self.doc.put_note):
            self._warn_range(pitch)

    def action_delete(self) -> None:
        if self.doc.selection is not None:
            self._edit(self.doc.erase)
            if not self.busy and not self.variants_showing:
                self.doc.clear_selection()
                self.app.notify("Erased: press i to let the model fill it in.", timeout=3)
                self._moved()
        else:
            self._edit(self.doc.delete_note)

    def action_backspace(self) -> None:
        self._edit(self.doc.delete_previous)
        self._moved()

    def action_resize(self, delta: int) -> None:
        self._edit(self.doc.resize_note, delta)

    def action_shift_note(self, steps: int) -> None:
        self._edit(self.doc.shift_note, steps)

    def action_transpose(self, semitones: int) -> None:
        if self.doc.selection is None and self._edit_target() is None:
            self.app.notify("No note under the cursor to transpose.", timeout=2)
            return
        if not self._edit(self.doc.transpose, semitones):
            return
        note = self._edit_target()
        if note is not None:  # the cursor follows the note, not a hidden pitch of its own
            self.doc.pitch = note[2]
            if self.doc.selection is None:
                self._warn_range(note[2])
        self._moved()

    def action_length(self, steps: int) -> None:
        self.doc.entry_length = steps
        self.update_status()

    def action_dotted(self) -> None:
        length = self.doc.entry_length
        # A dotted length is 3/2 of a plain one; 1 step cannot be dotted on a 16th grid.
        plain = {3: 2, 6: 4, 12: 8, 24: 16}
        if length in plain:
            self.doc.entry_length = plain[length]
        elif length > 1:
            self.doc.entry_length = length * 3 // 2
        self.update_status()

    # --- selection ------------------------------------------------------------------------

    def action_visual(self) -> None:
        if self.doc.anchor is None:
            self.doc.start_selection()
        else:
            self.doc.clear_selection()
        self._moved()

    def action_visual_bars(self) -> None:
        if self.doc.anchor is not None and self.doc.whole_bars:
            self.doc.clear_selection()
        else:
            self.doc.start_selection(whole_bars=True)
        self._moved()

    def action_extend(self, steps: int, voices: int) -> None:
        if self.doc.anchor is None:
            self.doc.start_selection()
        if voices:
            self.doc.voice = max(0, min(3, self.doc.voice + voices))
            self.doc.pitch = self.doc._pitch_near(self.doc.voice, self.doc.step)
        self.doc.move(steps)
        self._moved()

    def action_all_voices(self) -> None:
        self.doc.toggle_all_voices()
        self._moved()

    def action_select_all(self) -> None:
        self.doc.select_all()
        self._moved()

    def action_escape(self) -> None:
        if getattr(self, "recording", None) is not None:
            self.finish_recording(keep=False)
        elif self.busy:
            self.cancel_generation()
        elif self.doc.anchor is not None:
            self.doc.clear_selection()
            self._moved()

    def action_copy(self) -> None:
        if self.doc.copy():
            sel = self.doc.selection
            self.app.notify(f"Copied {sel.length} steps of {len(sel.voices)} voice(s).", timeout=2)
        else:
            self.app.notify("Select something first (v, then move).", timeout=2)

    def action_paste(self) -> None:
        if self.doc.clipboard is None:
            self.app.notify("Nothing copied yet (select, then y).", timeout=2)
            return
        self._edit(self.doc.paste)

    def action_undo(self) -> None:
        if not self._editable():
            return
        label = self.doc.undo()
        if label is None:
            self.app.notify("Nothing to undo.", timeout=2)
        else:
            self.app.notify(f"Undid {label}.", timeout=1.5)
            self._edited()

    def action_redo(self) -> None:
        if not self._editable():
            return
        label = self.doc.redo()
        if label is None:
            self.app.notify("Nothing to redo.", timeout=2)
        else:
            self.app.notify(f"Redid {label}.", timeout=1.5)
            self._edited()

    def action_zoom(self) -> None:
        self.roll.set_zoom(2 if self.roll.zoom == 1 else 1)

    def on_piano_roll_clicked(self, message) -> None:
        if message.voice is not None:
            self.doc.set_voice(message.voice)
        self.doc.goto(message.step)
        if message.pitch is not None:
            self.doc.pitch = message.pitch
        self._moved()
