"""The score set-up form: title, meter, pickup and length (key: T; tempo and sounds: settings)."""

from __future__ import annotations

from tui.screens.form import FieldForm

FIELDS = (
    ("title", "Title"),
    ("meter", "Meter (e.g. 4/4, 3/4, 6/8)"),
    ("pickup", "Pickup, in 16ths (0: none)"),
    ("bars", "Bars after the pickup"),
)


class ScoreSetupScreen(FieldForm):
    """Returns the values as text; the editor checks and applies them (the form stays on errors)."""

    FIELDS = FIELDS
    HEADING = "Score"
    REFUSED = "Score not changed"
    DEFAULT_CSS = """
    ScoreSetupScreen > Vertical { width: 64; }
    ScoreSetupScreen Grid { grid-columns: 28 1fr; }
    """

    def __init__(self, values: dict[str, str], check) -> None:
        super().__init__(values)
        self.check = check  # values -> problem text or None

    def problems(self, values: dict[str, str]) -> list[str]:
        problem = self.check(values)
        return [problem] if problem else []
