"""The edited score: cursor, selection, clipboard, unlimited undo/redo and autosave. No UI in here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import ScoreError
from engine.music.analysis import estimate_key
from engine.music.phrase_guess import guess_phrase_ends
from engine.music.pianoroll import MODEL_HIGH, MODEL_LOW
from engine.music.score import NUM_VOICES, VOICE_NAMES, Score
from tui import recovery
from tui.bars import BarEdits
from tui.note_edits import NOTE_LETTERS, Clip, NoteEdits, _fit  # noqa: F401 (re-exported)

# Where the cursor lands in a voice with nothing sounding nearby.
HOME_PITCH = (72, 64, 57, 48)
ENTRY_LENGTHS = (1, 2, 3, 4, 6, 8, 12, 16)


@dataclass(frozen=True)
class Selection:
    """Steps [start, end) of a set of voices."""

    start: int
    end: int
    voices: tuple[int, ...]

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        mask = np.zeros(shape, dtype=bool)
        for v in self.voices:
            mask[v, self.start : self.end] = True
        return mask

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class _State:
    score: Score
    erased: np.ndarray
    label: str
    ident: int


def _first_difference(a: Score, b: Score) -> int | None:
    """The first step where two scores' notes differ (None: the same notes, or another length)."""
    if a.pitches.shape != b.pitches.shape:
        return None
    differs = ((a.pitches != b.pitches) | (a.onsets != b.onsets)).any(axis=0)
    found = np.flatnonzero(differs)
    return int(found[0]) if found.size else None


class Document(NoteEdits, BarEdits):
    """A score being edited; every content change is one undo step and is autosaved."""

    def __init__(self, score: Score, path: Path | None = None, *, autosave: bool = True) -> None:
        self.score = score
        self.erased = np.zeros(score.pitches.shape, dtype=bool)
        self.path = Path(path) if path else None
        self.autosave = autosave
        self.step = 0
        self.voice = 0
        self.pitch = self._pitch_near(0, 0)
        self.anchor: tuple[int, int] | None = None  # (step, voice) where a selection began
        # (voice, step) just after the note typed last, until the cursor moves: note edits on
        # the silence there act on that note.
        self.typed_end: tuple[int, int] | None = None
        self.whole_bars = False
        self.all_voices = False
        self.entry_length = 4
        self.clipboard: Clip | None = None
        self.version = 0  # bumps on any content change (views cache by it)
        self._ident = self._counter = 0
        self._saved_ident = 0
        self._undo: list[_State] = []
        self._redo: list[_State] = []
        self._derived: dict[str, tuple[Score, object]] = {}  # guesses, cached per score

    # --- history --------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return self._ident != self._saved_ident

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def _state(self, label: str) -> _State:
        return _State(self.score, self.erased, label, self._ident)

    def _restore(self, state: _State) -> None:
        before = self.score
        self.score, self.erased, self._ident = state.score, state.erased, state.ident
        self._after_change()
        changed = _first_difference(before, self.score)
        if changed is not None and not self.step <= changed < self.step + 1:
            self.goto(changed)  # undo and redo show where the change was

    def commit(self, score: Score, erased: np.ndarray | None = None, label: str = "edit") -> None:
        """Make `score` the document's content as one undoable step."""
        if erased is None:
            erased = self.erased
            if erased.shape != score.pitches.shape:
                erased = _fit(erased, score.num_steps)
        self._undo.append(self._state(label))
        self._redo.clear()
        self._counter += 1  # never reused, so an old saved state cannot look current
        self._ident = self._counter
        self.score, self.erased = score, np.asarray(erased, dtype=bool)
        self._after_change()

    def undo(self) -> str | None:
        """Step back; returns the label of the undone change (None when nothing to undo)."""
        if not self._undo:
            return None
        state = self._undo.pop()
        self._redo.append(self._state(state.label))
        self._restore(state)
        return state.label

    def redo(self) -> str | None:
        if not self._redo:
            return None
        state = self._redo.pop()
        self._undo.append(self._state(state.label))
        self._restore(state)
        return state.label

    def _after_change(self) -> None:
        self.version += 1
        last = max(0, self.score.num_steps - 1)
        self.step = min(self.step, last)
        if self.anchor is not None and self.anchor[0] > last:  # the score got shorter
            self.anchor = (last, self.anchor[1])
        if self.autosave:  # a failure never stops editing; it is told once, then retried
            recovery.AUTOSAVE.save(self.path, self.score, self.erased)

    def mark_saved(self, path: Path) -> None:
        """The content now equals the file at `path`; the recovery file is no longer needed."""
        old = self.path
        self.path = Path(path)
        self._saved_ident = self._ident
        if self.autosave:
            recovery.discard_recovery(old)
            recovery.discard_recovery(self.path)

    # --- cursor -----------------------------------------------------------------------------

    def _pitch_near(self, voice: int, step: int) -> int:
        """The voice's pitch at `step`, else its nearest note, else its home pitch."""
        row = self.score.pitches[voice]
        if 0 <= step < row.size and row[step] >= 0:
            return int(row[step])
        sounding = np.flatnonzero(row >= 0)
        if sounding.size:
            return int(row[sounding[np.argmin(np.abs(sounding - step))]])
        return HOME_PITCH[voice]

    def move(self, steps: int = 0, semitones: int = 0) -> None:
        if steps:
            self.typed_end = None
        last = max(0, self.score.num_steps - 1)
        self.step = int(np.clip(self.step + steps, 0, last))
        self.pitch = int(np.clip(self.pitch + semitones, MODEL_LOW, MODEL_HIGH))

    def goto(self, step: int) -> None:
        self.typed_end = None
        self.step = int(np.clip(step, 0, max(0, self.score.num_steps - 1)))

    def move_beats(self, beats: int) -> None:
        from engine.music.analysis import beat_length

        self._move_grid(beat_length(self.score), beats)  # the felt beat: a dotted quarter in 6/8

    def move_bars(self, bars: int) -> None:
        self._move_grid(self.score.steps_per_bar, bars)

    def _move_grid(self, unit: int, count: int) -> None:
        """Jump to the next/previous grid line of `unit` steps, counted from the pickup."""
        offset = (self.step - self.score.pickup) % unit
        if count > 0:
            target = self.step + (unit - offset) + (count - 1) * unit
        else:
            target = self.step - (offset or unit) + (count + 1) * unit
        self.goto(target)

    def set_voice(self, voice: int) -> None:
        self.typed_end = None
        self.voice = voice % NUM_VOICES
        self.pitch = self._pitch_near(self.voice, self.step)

    # --- selection ------------------------------------------------------------------------

    def start_selection(self, whole_bars: bool = False) -> None:
        self.anchor = (self.step, self.voice)
        self.whole_bars = whole_bars
        self.all_voices = whole_bars

    def clear_selection(self) -> None:
        self.anchor = None
        self.whole_bars = self.all_voices = False

    def select_all(self) -> None:
        self.anchor = (0, 0)
        self.step = max(0, self.score.num_steps - 1)
        self.whole_bars = self.all_voices = True

    def toggle_all_voices(self) -> None:
        if self.anchor is None:
            self.start_selection()
        self.all_voices = not self.all_voices

    @property
    def selection(self) -> Selection | None:
        if self.anchor is None:
            return None
        a_step, a_voice = self.anchor
        a_step = min(a_step, max(0, self.score.num_steps - 1))
        start, end = min(a_step, self.step), max(a_step, self.step) + 1
        if self.whole_bars:
            score = self.score
            start = score.bar_start(score.location(start)[0])
            bar = score.location(end - 1)[0]
            end = min(score.num_steps, score.bar_start(bar + 1))
        if self.all_voices:
            voices = tuple(range(NUM_VOICES))
        else:
            voices = tuple(range(min(a_voice, self.voice), max(a_voice, self.voice) + 1))
        return Selection(start, end, voices)

    def _target_mask(self) -> np.ndarray:
        """The selection's cells, or the note under the cursor when nothing is selected."""
        sel = self.selection
        if sel is not None:
            return sel.mask(self.score.pitches.shape)
        mask = np.zeros(self.score.pitches.shape, dtype=bool)
        note = self.target_note()  # under the cursor, else the one just typed
        if note:
            mask[self.voice, note[0] : note[0] + note[1]] = True
        return mask

    def generation_mask(self) -> np.ndarray:
        """Cells an infill should write: the erased cells, else the selection."""
        if self.erased.any():
            return self.erased.copy()
        sel = self.selection
        if sel is None:
            return np.zeros(self.score.pitches.shape, dtype=bool)
        return sel.mask(self.score.pitches.shape)

    def accept(self, score: Score, label: str = "infill") -> None:
        """Take a generated score as one undo step; nothing is left marked as erased."""
        if score.pitches.shape != self.score.pitches.shape:
            raise ScoreError("a generated score must have the document's length")
        self.commit(score, np.zeros(score.pitches.shape, dtype=bool), label)

    def replace_score(self, score: Score, label: str = "new score") -> None:
        self.commit(score, np.zeros(score.pitches.shape, dtype=bool), label)
        self.clear_selection()
        self.goto(0)
        self.pitch = self._pitch_near(self.voice, 0)

    # --- phrase ends and key ----------------------------------------------------------------

    def _cached(self, name: str, compute):
        found = self._derived.get(name)
        if found is None or found[0] is not self.score:
            found = self._derived[name] = (self.score, compute(self.score))
        return found[1]

    def phrase_marks(self) -> tuple[np.ndarray, bool]:
        """(fermata steps shown, guessed): the score's own, else the guess from the soprano."""
        if self.score.fermatas is not None:
            return self.score.fermatas, False
        return self._cached("phrase_ends", guess_phrase_ends), True

    def toggle_fermata(self) -> bool:
        """A fermata at the cursor on/off (the guess becomes the score's own set); True = on.

        It goes over the melody note at the cursor, else the current voice's note there or the
        one just typed, else this step alone; the same key again takes it off."""
        marks = self.phrase_marks()[0].copy()
        step = self.step
        note = self.note_at(0, step) or self.target_note()
        at = step if marks[step] or note is None else note[0]
        if marks[at]:  # off: the whole marked run there
            start, end = at, at + 1
            while start > 0 and marks[start - 1]:
                start -= 1
            while end < marks.size and marks[end]:
                end += 1
            marks[start:end] = False
        else:
            start, end = (note[0], note[0] + note[1]) if note else (step, step + 1)
            marks[start:end] = True
        self.commit(self.score.replace(fermatas=marks), label="fermata")
        return bool(marks[at])

    def key_info(self) -> tuple[str | None, bool]:
        """(key name, estimated): the score's key, else the melody's estimate (None: no notes)."""
        if self.score.key:
            return self.score.key, False
        return self._cached("key", estimate_key), True

    def set_key(self, key: str | None) -> None:
        """Give the score a key ("F", "F#m"), or None to go back to the estimate."""
        if key != self.score.key:
            self.commit(self.score.replace(key=key), label="key")

    def status(self) -> str:
        return f"{self.score.location_text(self.step)} {VOICE_NAMES[self.voice]}"
