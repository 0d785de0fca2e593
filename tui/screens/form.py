"""A form of one-line text fields on a modal screen (the settings, the score set-up).

Enter moves to the next field and applies on the last, ctrl+s applies, Esc cancels. Applying
asks `problems(values)`: when there are any, they are said, the field named first in them gets
the focus, and the form stays as typed; otherwise the screen returns the values as text.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class FieldForm(ModalScreen[dict | None]):
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()  # (name, label)
    HEADING: ClassVar[str] = ""
    REFUSED: ClassVar[str] = "Not applied"  # the title of the notice that lists the problems

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "cancel", "cancel"),
        Binding("ctrl+s", "apply", "apply"),
    ]
    # One row per field, no gaps: the settings' fourteen fields fit an 80x24 terminal. The label
    # column holds the longest label (39 characters) whole.
    DEFAULT_CSS = """
    FieldForm { align: center middle; }
    FieldForm > Vertical { width: 88; max-width: 100%; height: auto; border: round $accent;
                           background: $surface; padding: 0 1; }
    FieldForm Grid { grid-size: 2; grid-columns: 40 1fr; height: auto; grid-rows: 1;
                     grid-gutter: 0 1; margin: 1 0 0 0; }
    FieldForm Input, FieldForm Input:focus { height: 1; border: none; padding: 0 1; }
    FieldForm Input:focus { background: $accent 30%; }
    """

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__()
        self.values = values

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.HEADING}[/b]   enter on the last field or ctrl+s applies,"
                        " esc cancels")
            with Grid():
                for name, text in self.FIELDS:
                    yield Label(text)
                    yield Input(self.values.get(name, ""), id=name)
            yield from self.below()

    def below(self) -> ComposeResult:
        """Widgets under the fields (none here)."""
        yield from ()

    def problems(self, values: dict[str, str]) -> list[str]:
        """What keeps `values` from being applied (nothing here)."""
        return []

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == self.FIELDS[-1][0]:
            self.action_apply()
        else:
            self.focus_next()

    def action_apply(self) -> None:
        values = {name: self.query_one(f"#{name}", Input).value for name, _ in self.FIELDS}
        problems = self.problems(values)
        if problems:
            self.app.notify("\n".join(problems), title=self.REFUSED, severity="error", timeout=8)
            bad = next((n for n, _ in self.FIELDS if any(p.startswith(n) for p in problems)), None)
            if bad is not None:
                self.query_one(f"#{bad}", Input).focus()
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)
