"""The settings form: sampling (temperature ... harmonic rhythm, model), sound, MIDI, programs, tempo."""

from __future__ import annotations

import os
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.widgets import Label

from tui.screens.form import FieldForm
from tui.settings import LIMITS, form_problems

FIELDS = (
    ("temperature", f"Temperature ({LIMITS['temperature'][1]:g}-{LIMITS['temperature'][2]:g})"),
    ("steps", "Gibbs steps"),
    ("variants", f"Variants at once (1-{LIMITS['variants'][2]})"),
    ("seed", "First seed"),
    ("polish", "Accompaniment polish steps"),
    ("repair", "Voice-leading repair rounds (0: off)"),
    ("chords", "Harmonic rhythm (free, 2, beat, melody)"),
    ("model", "Model (standard, fast)"),
    ("soundfont", "SoundFont file (empty: default)"),
    ("sound_server", "Sound server (empty: $PULSE_SERVER)"),
    ("midi_input", "MIDI keyboard (part of a port name)"),
    ("midi_output", "MIDI output port (empty: FluidSynth)"),
    ("programs", "GM programs S A T B"),
    ("tempo", "Tempo (BPM)"),
)


class SettingsScreen(FieldForm):
    """Returns the edited values as text (the editor validates and applies them)."""

    FIELDS = FIELDS
    HEADING = "Settings"
    REFUSED = "Settings not applied"
    DEFAULT_CSS = """
    SettingsScreen #saved-in, SettingsScreen #midi-ports { color: $text-muted; width: 100%; }
    SettingsScreen #midi-ports { margin: 1 0 0 0; }
    """

    def below(self) -> ComposeResult:
        yield Label("MIDI ports: looking...", id="midi-ports", markup=False)
        saved_in = getattr(self.app, "settings_path", None)
        if saved_in is not None:
            yield Label(
                f"Saved in {home_short(saved_in)}; programs, tempo: in the score",
                id="saved-in",
                markup=False,
            )

    def problems(self, values: dict[str, str]) -> list[str]:
        return form_problems(values)

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


def home_short(path: Path) -> str:
    """`path` with the home folder written as ~ (shorter, and what a user would type)."""
    home = Path(os.path.expanduser("~"))
    try:
        return str(Path("~") / Path(path).relative_to(home))
    except ValueError:
        return str(path)
