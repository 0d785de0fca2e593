"""The score set-up form: title, meter, pickup and length (key: T; tempo and sounds: settings)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

FIELDS = (
    ("title", "Title"),
    ("meter", "Meter (e.g. 4/4, 3/4, 6/8)"),
    ("pickup", "Pickup, in 16ths (0: none)"),
    ("bars", "Bars after the pickup"),
)


class ScoreSetupScreen(ModalScreen[dict | None]):
    """Returns the values as text; the editor checks and applies them (the form stays on errors)."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "cancel", "cancel"),
        Binding("ctrl+s", "apply", "apply"),
    ]
    DEFAULT_CSS = """
    ScoreSetupScreen { align: center middle; }
    ScoreSetupScreen > Vertical { width: 64; max-width: 100%; height: auto; border: round $accent;
                                  background: $surface; padding: 0 1; }
    ScoreSetupScreen Grid { grid-size: 2; grid-columns: 28 1fr; height: auto; grid-rows: 1;
                            grid-gutter: 1 0; margin: 1 0 0 0; }
    ScoreSetupScreen Input, ScoreSetupScreen Input:focus { height: 1; border: none; padding: 0 1; }
    ScoreSetupScreen Input:focus { background: $accent 30%; }
    """

    def __init__(self, values: dict[str, str], check) -> None:
        super().__init__()
        self.values = values
        self.check = check  # values -> problem text or None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Score[/b]   enter on the last field or ctrl+s applies, esc cancels")
            with Grid():
                for name, text in FIELDS:
                    yield Label(text)
                    yield Input(self.values.get(name, ""), id=name)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == FIELDS[-1][0]:
            self.action_apply()
        else:
            self.focus_next()

    def action_apply(self) -> None:
        values = {name: self.query_one(f"#{name}", Input).value for name, _ in FIELDS}
        problem = self.check(values)
        if problem:
            self.app.notify(problem, title="Score not changed", severity="error", timeout=8)
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)
