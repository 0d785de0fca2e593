"""Phrase ends and key from the editor: toggle a fermata, set or estimate the key (screen mixin)."""

from __future__ import annotations

from engine.errors import CantorError
from engine.music.analysis import key_description, parse_key_name
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
        if guessed:
            told += " The guessed phrase ends are now yours to edit (u undoes)."
        self.app.notify(told, timeout=3)
        self._edited()

    def action_set_key(self) -> None:
        if not self._editable():
            return
        key, estimated = self.doc.key_info()
        default = "auto" if estimated or not key else key

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
                    return
            self.app.notify(f"Key: {key_status(self.doc)}", timeout=3)
            self._edited()

        self.app.push_screen(
            PathPrompt(
                "Key of the score",
                default,
                "F, Bb, F#m or D minor; auto = estimated from the melody   esc: cancel",
            ),
            chosen,
        )


def key_status(doc) -> str:
    """"F major", "D minor (estimated)", or "unknown" when nothing sounds."""
    key, estimated = doc.key_info()
    if not key:
        return "unknown"
    return key_description(key) + (" (estimated)" if estimated else "")
