"""Small modal dialogs: ask for a path, ask a question with lettered answers.

Each dialog takes exactly one answer: keys that arrive together ("yy", two Enters, three Escapes)
must not dismiss it twice, since a second dismiss would pop the screen beneath (the editor) and
leave a blank screen. Later keys are consumed until the dialog is gone."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class OneAnswer(ModalScreen):
    """A modal screen that can be dismissed once only."""

    answered = False

    def dismiss(self, result=None) -> AwaitComplete:
        if self.answered or self.app.screen is not self:
            return AwaitComplete()  # answered already: popping again would pop the editor
        self.answered = True
        return super().dismiss(result)


class PathPrompt(OneAnswer):
    """Ask for a file name; enter confirms, escape cancels (returns None)."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    PathPrompt { align: center middle; }
    PathPrompt > Vertical { width: 70; max-width: 95%; height: auto; border: round $accent;
                            background: $surface; padding: 0 1; }
    PathPrompt .hint { width: 100%; }
    """

    def __init__(self, title: str, default: str = "", hint: str = "") -> None:
        super().__init__()
        self.title_text, self.default, self.hint = title, default, hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.title_text}[/b]")
            yield Input(value=self.default, id="path")
            yield Label(self.hint or "enter: confirm   esc: cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Choice(OneAnswer):
    """A question with answers chosen by one key each, e.g. {"s": "save", "d": "discard"}."""

    DEFAULT_CSS = """
    Choice { align: center middle; }
    Choice > Vertical { width: 64; max-width: 95%; height: auto; border: round $warning;
                        background: $surface; padding: 0 1; }
    Choice .question { width: 100%; }
    """

    def __init__(self, question: str, answers: dict[str, str], cancel: str = "cancel") -> None:
        super().__init__()
        self.question, self.answers, self.cancel = question, answers, cancel

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, classes="question")
            keys = "   ".join(f"[b]{k}[/b] {text}" for k, text in self.answers.items())
            yield Label(f"{keys}   [b]esc[/b] {self.cancel}")

    def on_key(self, event) -> None:
        event.stop()
        if self.answered:
            event.prevent_default()  # a key typed after the answer belongs to no one
        elif event.key in self.answers:
            self.dismiss(event.key)
        elif event.key == "escape":
            self.dismiss("escape")
