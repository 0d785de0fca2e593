"""Note editing on the document: enter, delete, resize, shift, transpose, copy and paste at the
cursor (a mixin of `tui.document.Document`, which holds the score, cursor, selection and undo)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import PitchRangeError
from engine.music.pianoroll import MODEL_HIGH, MODEL_LOW
from engine.music.score import NUM_VOICES, Score

NOTE_LETTERS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


@dataclass(frozen=True)
class Clip:
    """Copied notes: rows for `voices`, each (pitches, onsets) over the copied steps."""

    pitches: np.ndarray
    onsets: np.ndarray
    voices: tuple[int, ...]


class NoteEdits:
    """The note operations; they read and commit through the Document they are mixed into."""

    def note_at(self, voice: int, step: int) -> tuple[int, int, int] | None:
        """(start, length, pitch) of the note sounding in `voice` at `step`."""
        row = self.score.pitches[voice]
        if not 0 <= step < row.size or row[step] < 0:
            return None
        start, end = self.score.note_span(voice, step)
        return start, end - start, int(row[step])

    def target_note(self) -> tuple[int, int, int] | None:
        """The note a note edit acts on: under the cursor, else the one just typed (ending right
        before the cursor)."""
        note = self.note_at(self.voice, self.step)
        if note is None and self.step > 0 and self.typed_end == (self.voice, self.step):
            note = self.note_at(self.voice, self.step - 1)
        return note

    def _write(self, voice: int, start: int, length: int, pitch: int, score: Score | None = None):
        """Score with one note written (extended with whole bars if it runs past the end)."""
        score = score or self.score
        end = start + length
        if end > score.num_steps:
            bars = -(-(end - score.num_steps) // score.steps_per_bar)
            score = score.concat(Score.empty(bars * score.steps_per_bar, **score.meta()))
        pitches, onsets = score.pitches.copy(), score.onsets.copy()
        pitches[voice, start:end] = pitch
        onsets[voice, start:end] = False
        onsets[voice, start] = pitch >= 0
        if end < score.num_steps and pitches[voice, end] >= 0:
            onsets[voice, end] = True  # the note after is struck anew
        return score.replace(pitches=pitches, onsets=onsets)

    def put_note(self, pitch: int | None = None, length: int | None = None) -> None:
        """Enter a note of the current voice at the cursor and step past it."""
        self.put_chord([self.pitch if pitch is None else pitch], length)

    def put_chord(self, pitches: list[int], length: int | None = None) -> list[int]:
        """Enter notes played together at the cursor, highest in the current voice and the rest in
        the voices below it (one undo step), then step past them; returns the voices written."""
        length = length or self.entry_length
        chord = sorted(set(pitches), reverse=True)[: NUM_VOICES - self.voice]
        for pitch in chord:
            _check_pitch(pitch)
        score, voices = self.score, list(range(self.voice, self.voice + len(chord)))
        for voice, pitch in zip(voices, chord):
            score = self._write(voice, self.step, length, pitch, score)
        erased = _fit(self.erased, score.num_steps)
        erased[voices, self.step : self.step + length] = False
        self.commit(score, erased, "enter chord" if len(chord) > 1 else "enter note")
        self.pitch = chord[0]
        self.goto(self.step + length)
        self.typed_end = (self.voice, self.step)
        return voices

    def write_voice(self, voice: int, start: int, end: int, notes: list[tuple[int, int, int]]):
        """Replace steps [start, end) of `voice` with `notes` (pitch, first, end steps, relative
        to `start`), rests elsewhere: one undo step (a recording)."""
        pitches, onsets = self.score.pitches.copy(), self.score.onsets.copy()
        pitches[voice, start:end], onsets[voice, start:end] = -1, False
        for pitch, first, last in notes:
            _check_pitch(pitch)
            pitches[voice, start + first : start + last] = pitch
            onsets[voice, start + first] = True
        if end < pitches.shape[1] and pitches[voice, end] >= 0:
            onsets[voice, end] = True
        erased = _fit(self.erased, self.score.num_steps)
        erased[voice, start:end] = False
        self.commit(self.score.replace(pitches=pitches, onsets=onsets), erased, "record")

    def put_note_named(self, letter: str) -> None:
        """Enter the note with this letter name nearest to the cursor pitch."""
        pc = NOTE_LETTERS[letter.lower()]
        ref = self.pitch
        candidates = [p for p in range(MODEL_LOW, MODEL_HIGH + 1) if p % 12 == pc]
        self.put_note(min(candidates, key=lambda p: (abs(p - ref), p)))

    def delete_note(self) -> bool:
        """Silence the note under the cursor (or the one just typed) in the current voice; the
        cursor goes to where it began."""
        note = self.target_note()
        if not note:
            return False
        mask = np.zeros(self.score.pitches.shape, dtype=bool)
        mask[self.voice, note[0] : note[0] + note[1]] = True
        self.commit(self.score.erase(mask), self._erased_again(note[0], note[0] + note[1]),
                    "delete note")
        self.goto(min(self.step, note[0]))
        return True

    def _erased_again(self, start: int, end: int) -> np.ndarray:
        """The erased cells once steps [start, end) of the current voice fall silent: erased too
        when they lie inside an erased region (a note typed there and taken back again), so the
        model fills them, not a rest the user never asked for."""
        erased = self.erased.copy()
        row = erased[self.voice]
        if (start > 0 and row[start - 1]) or (end < row.size and row[end]):
            row[start:end] = True
        return erased

    def delete_previous(self) -> bool:
        """Backspace while typing: remove the note before the cursor and step back onto it."""
        if self.step == 0:
            return False
        note = self.note_at(self.voice, self.step - 1)
        if not note:
            self.move(-1)
            return False
        self.goto(note[0])
        return self.delete_note()

    def resize_note(self, delta: int) -> bool:
        """Lengthen (delta > 0, over what follows) or shorten the note under the cursor (or the
        one just typed: the cursor then stays right after it, where the next note goes)."""
        note = self.target_note()
        if not note:
            return False
        after = self.step == note[0] + note[1]
        start, length, pitch = note
        new_length = max(1, length + delta)
        if new_length == length:
            return False
        score = self.score
        if new_length < length:
            mask = np.zeros(score.pitches.shape, dtype=bool)
            mask[self.voice, start + new_length : start + length] = True
            score = score.erase(mask)
        else:
            score = self._write(self.voice, start, new_length, pitch)
        erased = _fit(self.erased, score.num_steps)
        if new_length < length:  # the cut-off end inside an erased region is erased again
            erased = _fit(self._erased_again(start + new_length, start + length), score.num_steps)
        erased[self.voice, start : start + new_length] = False  # a note drawn in is kept, as typed
        self.commit(score, erased, "lengthen note" if delta > 0 else "shorten note")
        self.goto(start + new_length if after else min(self.step, start + new_length - 1))
        if after:
            self.typed_end = (self.voice, self.step)
        return True

    def shift_note(self, steps: int) -> bool:
        """Move the note under the cursor (or the one just typed) earlier or later, keeping its
        length; the cursor moves with it."""
        note = self.target_note()
        if not note:
            return False
        start, length, pitch = note
        new_start = start + steps
        if new_start < 0:
            return False
        after = self.step == start + length
        mask = np.zeros(self.score.pitches.shape, dtype=bool)
        mask[self.voice, start : start + length] = True
        score = self._write(self.voice, new_start, length, pitch, self.score.erase(mask))
        erased = _fit(self.erased, score.num_steps)
        erased[self.voice, new_start : new_start + length] = False  # kept where it lands
        self.commit(score, erased, "move note")
        self.goto(self.step + steps)
        if after:
            self.typed_end = (self.voice, self.step)
        return True

    def transpose(self, semitones: int) -> bool:
        """Transpose the selection (or the note under the cursor); stays in the model's range."""
        mask = self._target_mask() & (self.score.pitches >= 0)
        if not mask.any():
            return False
        moved = self.score.pitches.astype(np.int32) + semitones
        if moved[mask].min() < MODEL_LOW or moved[mask].max() > MODEL_HIGH:
            raise PitchRangeError(
                f"transposing by {semitones:+d} leaves the range {MODEL_LOW}..{MODEL_HIGH}"
            )
        pitches = np.where(mask, moved, self.score.pitches)
        self.commit(
            self.score.replace(pitches=pitches, onsets=self.score.onsets), label="transpose"
        )
        self.pitch = int(np.clip(self.pitch + semitones, MODEL_LOW, MODEL_HIGH))
        return True

    # --- regions -----------------------------------------------------------------------------

    def erase(self, mask: np.ndarray | None = None) -> bool:
        """Silence cells and mark them to be generated (the selection by default)."""
        if mask is None:
            sel = self.selection
            if sel is None:
                return False
            mask = sel.mask(self.score.pitches.shape)
        self.commit(self.score.erase(mask), self.erased | mask, "erase")
        return True

    def copy(self) -> bool:
        sel = self.selection
        if sel is None:
            return False
        rows = list(sel.voices)
        clip = self.score.slice(sel.start, sel.end)
        self.clipboard = Clip(clip.pitches[rows].copy(), clip.onsets[rows].copy(), sel.voices)
        return True

    def paste(self) -> bool:
        """Paste the clipboard at the cursor: a line copied from one voice into the cursor's voice
        (a soprano line can go to the tenor), several voices into the voices they came from."""
        clip = self.clipboard
        if clip is None:
            return False
        if len(clip.voices) == 1:
            clip = Clip(clip.pitches, clip.onsets, (self.voice,))
        length = clip.pitches.shape[1]
        score = self.score
        end = self.step + length
        if end > score.num_steps:
            bars = -(-(end - score.num_steps) // score.steps_per_bar)
            score = score.concat(Score.empty(bars * score.steps_per_bar, **score.meta()))
        pitches, onsets = score.pitches.copy(), score.onsets.copy()
        for row, v in enumerate(clip.voices):
            pitches[v, self.step : end] = clip.pitches[row]
            onsets[v, self.step : end] = clip.onsets[row]
            if end < score.num_steps and pitches[v, end] >= 0:
                onsets[v, end] = True
        erased = _fit(self.erased, score.num_steps)
        erased[list(clip.voices), self.step : end] = False
        self.commit(score.replace(pitches=pitches, onsets=onsets), erased, "paste")
        return True


def _check_pitch(pitch: int) -> None:
    if not MODEL_LOW <= pitch <= MODEL_HIGH:
        raise PitchRangeError(f"notes must be in range {MODEL_LOW}..{MODEL_HIGH}; got {pitch}")


def _fit(mask: np.ndarray, steps: int) -> np.ndarray:
    """A (4, steps) copy of a mask, cut or padded with False."""
    out = np.zeros((NUM_VOICES, steps), dtype=bool)
    n = min(steps, mask.shape[1])
    out[:, :n] = mask[:, :n]
    return out
