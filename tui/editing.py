"""Keyboard editing actions of the editor screen: moves, notes, selection, clipboard, undo."""

from __future__ import annotations

from engine.errors import CantorError
from tui.document import Document


class EditingActions:
    """Mixed into the editor screen; `self.doc` is the Document, `self.roll` the PianoRoll."""

    doc: Document

    # --- helpers --------------------------------------------------------------------------

    def _moved(self) -> None:
        self.roll.cursor_changed()
        self.update_status()

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
        return True

    def _edit(self, change, *args) -> None:
        """Run a document edit, reporting a user error instead of raising it."""
        if not self._editable():
            return
        try:
            changed = change(*args)
        except CantorError as exc:
            self.app.notify(str(exc), title="Cannot do that", severity="warning")
            return
        if changed is not False:
            self._edited()

    # --- moves ----------------------------------------------------------------------------

    def action_move(self, steps: int, semitones: int) -> None:
        self.doc.move(steps, semitones)
        self._moved()

    def action_beats(self, count: int) -> None:
        self.doc.move_beats(count)
        self._moved()

    def action_bars(self, count: int) -> None:
        self.doc.move_bars(count)
        self._moved()

    def action_goto_start(self) -> None:
        self.doc.goto(0)
        self._moved()

    def action_goto_end(self) -> None:
        self.doc.goto(self.doc.score.num_steps - 1)
        self._moved()

    def action_voice(self, voice: int) -> None:
        self.doc.set_voice(voice)
        self._moved()

    def action_cycle_voice(self, delta: int) -> None:
        self.doc.set_voice(self.doc.voice + delta)
        self._moved()

    # --- notes ----------------------------------------------------------------------------

    def action_note(self, letter: str) -> None:
        self._edit(self.doc.put_note_named, letter)

    def action_put_note(self) -> None:
        self._edit(self.doc.put_note)

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
        self._edit(self.doc.transpose, semitones)

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
        if self.busy:
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
