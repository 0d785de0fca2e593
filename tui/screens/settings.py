"""The settings form: temperature, steps, variants, seed, polish, repair, SoundFont, programs, tempo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from tui.settings import LIMITS, form_problems

FIELDS = (
    ("temperature", f"Temperature ({LIMITS['temperature'][1]:g}-{LIMITS['temperature'][2]:g})"),
    ("steps", "Gibbs steps"),
    ("variants", f"Variants at once (1-{LIMITS['variants'][2]})"),
    ("seed", "First seed"),
    ("polish", "Accompaniment polish steps"),
    ("repair", "Voice-leading repair rounds (0: off)"),
    ("chords", "Harmonic rhythm (free, 2, beat, melody)"),
    ("soundfont", "SoundFont file (empty: default)"),
    ("sound_server", "Sound server (empty: $PULSE_SERVER)"),
    ("midi_input", "MIDI keyboard (part of a port name)"),
    ("midi_output", "MIDI output port (empty: FluidSynth)"),
    ("programs", "GM programs S A T B"),
    ("tempo", "Tempo (BPM)"),
)


class SettingsScreen(ModalScreen[dict | None]):
    """Returns the edited values as text (the editor validates and applies them)."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "cancel", "cancel"),
        Binding("ctrl+s", "apply", "apply"),
    ]
    # One line per field, so the form fits an 80x24 terminal.
    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    SettingsScreen > Vertical { width: 76; max-width: 100%; height: auto; border: round $accent;
                                background: $surface; padding: 0 1; }
    SettingsScreen Grid { grid-size: 2; grid-columns: 32 1fr; height: auto; grid-rows: 1;
                          grid-gutter: 0 1; margin: 1 0 0 0; }
    SettingsScreen Input, SettingsScreen Input:focus { height: 1; border: none; padding: 0 1; }
    SettingsScreen Input:focus { background: $accent 30%; }
    SettingsScreen #saved-in, SettingsScreen #midi-ports { color: $text-muted; width: 100%; }
    SettingsScreen #midi-ports { margin: 1 0 0 0; }
    """

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__()
        self.values = values

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Settings[/b]   enter on the last field or ctrl+s applies, esc cancels")
            with Grid():
                for name, text in FIELDS:
                    yield Label(text)
                    yield Input(self.values.get(name, ""), id=name)
            yield Label("MIDI ports: looking...", id="midi-ports", markup=False)
            saved_in = getattr(self.app, "settings_path", None)
            if saved_in is not None:
                yield Label(
                    f"Saved in {home_short(saved_in)}; programs, tempo: in the score",
                    id="saved-in",
                    markup=False,
                )

    def on_mount(self) -> None:
        self._list_midi_ports()

    @work(thread=True, exclusive=True, group="midi-ports", exit_on_error=False)
    def _list_midi_ports(self) -> None:
        """Name the MIDI ports this machine has (a thread: a MIDI system may be slow to answer)."""
        from engine.audio.midi_ports import list_ports

        inputs, outputs = list_ports("input"), list_ports("output")
        text = ("MIDI ports: none found" if not inputs and not outputs else
                f"MIDI in: {', '.join(inputs) or 'none'}; out: {', '.join(outputs) or 'none'}")
        self.app.call_from_thread(self._show_midi_ports, text)

    def _show_midi_ports(self, text: str) -> None:
        if self.is_mounted:
            self.query_one("#midi-ports", Label).update(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == FIELDS[-1][0]:
            self.action_apply()
        else:
            self.focus_next()

    def action_apply(self) -> None:
        """Apply when every value fits; otherwise say what is wrong and keep the form as typed."""
        values = {name: self.query_one(f"#{name}", Input).value for name, _ in FIELDS}
        problems = form_problems(values)
        if problems:
            self.app.notify("\n".join(problems), title="Settings not applied", severity="error")
            bad = next((n for n, _ in FIELDS if any(p.startswith(n) for p in problems)), None)
            if bad is not None:
                self.query_one(f"#{bad}", Input).focus()
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)


def home_short(path: Path) -> str:
    """`path` with the home folder written as ~ (shorter, and what a user would type)."""
    home = Path(os.path.expanduser("~"))
    try:
        return str(Path("~") / Path(path).relative_to(home))
    except ValueError:
        return str(path)
