"""The editor screen: the pianoroll, the status line and the footer; all editing keys live here."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from engine.coconet.defaults import DEFAULT_MODEL
from engine.music.score import VOICE_NAMES
from engine.music.spelling import spell
from tui import keys
from tui.document import Document
from tui.editing import EditingActions
from tui.files import FileActions
from tui.findings import FindingActions
from tui.generation import GenerationActions
from tui.midi_keys import MidiActions
from tui.phrases import PhraseActions, ScoreActions, key_status
from tui.playback import PlaybackActions
from tui.screens.help import HelpScreen
from tui.variants import VariantActions
from tui.widgets.pianoroll import PianoRoll

LENGTH_NAMES = {
    1: "16th",
    2: "8th",
    3: "dotted 8th",
    4: "quarter",
    6: "dotted quarter",
    8: "half",
    12: "dotted half",
    16: "whole",
    24: "dotted whole",
}


class EditorScreen(
    EditingActions,
    GenerationActions,
    VariantActions,
    PlaybackActions,
    MidiActions,
    FileActions,
    FindingActions,
    PhraseActions,
    ScoreActions,
    Screen,
):
    BINDINGS = keys.bindings()

    def __init__(self, document: Document) -> None:
        super().__init__()
        self.doc = document

    def compose(self) -> ComposeResult:
        app = self.app
        self.roll = PianoRoll(
            self.doc, ascii_only=app.ascii_only, colour=not app.no_color, id="roll"
        )
        yield self.roll
        yield Static("", id="status")
        # One line of text, not Textual's Footer: a widget per key cost a third of the start-up.
        yield Static(Text(keys.footer_text()), id="keybar")

    def on_mount(self) -> None:
        self.roll.focus()
        self.update_status()
        self.set_timer(0.1, self.detect_sound)  # where sound goes: a thread, after the first frame
        if self.app.settings.midi_input:
            self.set_timer(0.1, self.connect_midi)  # the MIDI keyboard, also in a thread

    def on_unmount(self) -> None:
        """Ports and sound are let go with the screen (a MIDI port left to the garbage collector
        may outlive its JACK server)."""
        self.disconnect_midi()
        player, self._player = self._player, None
        if player is not None:
            player.close()

    def set_document(self, document: Document) -> None:
        """Show another document (a file was opened): a run or variants of the old one are
        dropped, so nothing of it can be accepted into this one."""
        self.stop_playback()
        if self.busy:
            self.drop_run()
        self.forget_variants()
        self.doc = document
        self.roll.document = document
        self.roll.preview = None
        self.roll.invalidate()
        self.roll.cursor_changed()
        self.after_edit()
        self.update_status()

    def after_edit(self) -> None:
        """Views derived from the score follow every change."""
        if self.findings_on:
            self._refresh_findings()
        if self.heat_on:
            self._refresh_confidence()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_command_palette(self) -> None:
        self.app.action_command_palette()

    def update_status(self, progress: tuple[int, int] | None = None) -> None:
        """File, position, voice and mode first: a narrow terminal cuts the end of the line."""
        doc, score = self.doc, self.doc.score
        name = doc.path.name if doc.path else (score.title or "untitled")
        if progress is not None and self.busy:
            step, total = progress
            width = 16
            done = int(width * step / max(1, total))
            mode = (
                f"{self._run_kind.upper()} {step}/{total} [{'#' * done}{'.' * (width - done)}]"
                " esc cancels"
            )
        elif self.busy:
            mode = "WORKING (esc cancels)"
        elif self.variants_showing:
            index = getattr(self, "_variant_index", 0)
            mode = f"VARIANT {index + 1}/{len(self._variants)}"
        elif doc.anchor is not None:
            sel = doc.selection
            mode = f"SELECT {sel.length}x{len(sel.voices)}"
        else:
            mode = "EDIT"
        if self.recording is not None:
            mode = self.recording_text()
        elif self._playing:
            mode += " PLAYING"
        parts = [
            f"{name}{'*' if doc.dirty else ''}",
            score.location_text(doc.step),
            f"{VOICE_NAMES[doc.voice]} {spell(doc.pitch, score.key, ascii_only=self.app.ascii_only)}",
            mode,
            LENGTH_NAMES.get(doc.entry_length, f"{doc.entry_length} steps"),
            f"{score.time_signature[0]}/{score.time_signature[1]} {score.tempo_bpm:g} bpm",
            # Where sound goes comes before the key: a broken tunnel must not fall off the line.
            *([self.sound_text()] if self.sound_text() else []),
            f"key: {key_status(doc)}",
        ]
        model = model_status(self.app)
        if model:
            parts.append(model)
        if self.app.muted:
            parts.append("mute " + "".join("SATB"[v] for v in sorted(self.app.muted)))
        if self.app.soloed:
            parts.append("solo " + "".join("SATB"[v] for v in sorted(self.app.soloed)))
        if self.heat_on:
            parts.append("heatmap")
        if doc.erased.any():
            parts.append(f"{int(doc.erased.sum())} erased cells (i fills)")
        self.query_one("#status", Static).update(Text(" | ".join(parts)))


def model_status(app) -> str | None:
    """ "model: fast" (or the --checkpoint file's name) when not the standard shipped model."""
    checkpoint = getattr(app, "checkpoint", None)
    if checkpoint:
        return f"model: {Path(checkpoint).name}"
    name = getattr(getattr(app, "settings", None), "model", DEFAULT_MODEL)
    return None if name == DEFAULT_MODEL else f"model: {name}"
