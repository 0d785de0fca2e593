"""Score-level actions of the editor (screen mixins): fermatas and key; title, meter, pickup, length, bars."""

from __future__ import annotations

import numpy as np

from engine.errors import CantorError
from engine.music.analysis import key_description, parse_key_name
from tui.bars import MAX_SETUP_BARS
from tui.screens.prompt import PathPrompt

ESTIMATE_WORDS = ("auto", "estimate", "?", "-")


class PhraseActions:
    def action_fermata(self) -> None:
        if not self._editable():
            return
        guessed = self.doc.phrase_marks()[1]
        on = self.doc.toggle_fermata()
        where = self.doc.score.location_text(self.doc.step)
        told = f"Fermata {'set' if on else 'removed'} at {where}."
        if on and not (self.doc.score.pitches[:, self.doc.step] >= 0).any() and \
                self.doc.target_note() is None:
            told += " No note sounds there: it marks the phrase end at this step."
        if guessed:
            told += " The guessed phrase ends are now yours to edit (u undoes)."
        self.app.notify(told, timeout=3)
        self._edited()

    def action_set_key(self, typed: str | None = None) -> None:
        """Ask for the score's key; a name cantor cannot read asks again with it as typed."""
        if not self._editable():
            return
        key, estimated = self.doc.key_info()
        default = typed if typed is not None else ("auto" if estimated or not key else key)

        def chosen(value: str | None) -> None:
            if value is None:
                return
            if value.strip().lower() in ESTIMATE_WORDS:
                self.doc.set_key(None)
            else:
                try:
                    self.doc.set_key(parse_key_name(value))
                except CantorError as exc:
                    self.app.notify(str(exc), title="Key not set", severity="error", timeout=8)
                    self.action_set_key(value)
                    return
            self.app.notify(f"Key: {key_status(self.doc)}", timeout=3)
            self._edited()

        self.app.push_screen(
            PathPrompt(
                "Key of the score",
                default,
                "F, Bb, F#m or D minor; auto: estimated from the melody\nenter: set   esc: cancel",
            ),
            chosen,
        )


def key_status(doc) -> str:
    """"F major", "D minor (estimated)", or "unknown" when nothing sounds."""
    key, estimated = doc.key_info()
    if not key:
        return "unknown"
    return key_description(key) + (" (estimated)" if estimated else "")


class ScoreActions:
    """Score set-up and bars from the editor (screen mixin): M, I, D."""

    def _setup_values(self) -> dict[str, str]:
        score = self.doc.score
        num, den = score.time_signature
        return {"title": score.title, "meter": f"{num}/{den}", "pickup": str(score.pickup),
                "bars": str(max(1, score.num_bars))}

    def _apply_setup(self, values: dict[str, str], dry_run: bool) -> str | None:
        """Apply the form's values (or only check them): None, or what is wrong in one line."""
        from tui.bars import parse_meter

        try:
            meter = parse_meter(values["meter"])
            try:
                pickup = int(values["pickup"])
                bars = None if values["bars"] is None else int(values["bars"])  # None: as it is
            except ValueError:
                return "pickup and bars must be whole numbers"
            if dry_run:
                self.doc.score.replace(time_signature=meter, pickup=pickup)  # raises when wrong
                if bars is not None and not 1 <= bars <= MAX_SETUP_BARS:
                    return f"bars must be in range 1..{MAX_SETUP_BARS}; got {bars}"
                return None
            self.doc.set_up(title=values["title"], meter=meter, pickup=pickup, bars=bars)
        except CantorError as exc:
            return str(exc)
        return None

    def _bars_that_keep_the_music(self, values: dict, initial: dict) -> dict:
        """The form's values, with the length kept as it was when only the title changed, and
        with Bars grown (when left as it was) so that a new meter or pickup cuts no note off."""
        from tui.bars import parse_meter

        if all(values[k] == initial[k] for k in ("meter", "pickup", "bars")):
            return {**values, "bars": None}  # the title alone: the length stays exactly
        if values["bars"] != initial["bars"]:
            return values  # the user chose a length
        try:
            meter, pickup = parse_meter(values["meter"]), int(values["pickup"])
            bar = self.doc.score.replace(time_signature=meter, pickup=pickup).steps_per_bar
        except (CantorError, ValueError):
            return values  # the form's checks say what is wrong
        sounding = np.flatnonzero((self.doc.score.pitches >= 0).any(axis=0))
        end = int(sounding[-1]) + 1 if sounding.size else 0
        needed = -(-(end - pickup) // bar) if end > pickup else 1
        return {**values, "bars": str(max(int(values["bars"]), needed))}

    def action_score_setup(self) -> None:
        if not self._editable():
            return
        from tui.screens.score_setup import ScoreSetupScreen

        initial = self._setup_values()

        def chosen(values: dict | None) -> None:
            if values is None:
                return
            values = self._bars_that_keep_the_music(values, initial)
            problem = self._apply_setup(values, dry_run=False)
            if problem:
                self.app.notify(problem, title="Score not changed", severity="error", timeout=8)
                return
            score = self.doc.score
            num, den = score.time_signature
            self.app.notify(f"Score: {num}/{den}, {score.num_bars} bars"
                            + (f" after a {score.pickup}-16th pickup" if score.pickup else ""),
                            timeout=3)
            self._edited()

        self.app.push_screen(
            ScoreSetupScreen(self._setup_values(), lambda v: self._apply_setup(v, dry_run=True)),
            chosen)

    def action_insert_bar(self) -> None:
        if self._editable():
            bar = self.doc.insert_bar()
            self.app.notify(f"Empty bar inserted as bar {bar} (u undoes).", timeout=3)
            self._edited()

    def action_delete_bar(self) -> None:
        if not self._editable():
            return
        try:
            bar = self.doc.delete_bar()
        except CantorError as exc:
            self.app.notify(str(exc), title="Bar not deleted", severity="error", timeout=5)
            return
        self.app.notify(f"Bar {bar} deleted (u undoes).", timeout=3)
        self._edited()
