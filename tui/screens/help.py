"""The help screen: every key of the composer, grouped, generated from the key table."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keys import VARIANT_KEYS, help_rows


def escape(text: str) -> str:
    """Every `[` escaped: Textual's markup reads a lone `[` before a tag as the tag's start."""
    return text.replace("[", "\\[")


def help_text() -> str:
    lines: list[str] = []
    group = None
    for name, keys, description in help_rows():
        if name != group:
            group = name
            lines.append(f"\n[b u]{name}[/b u]")
        lines.append(f"  [b]{escape(f'{keys:<22}')}[/b] {escape(description)}")
    lines.append("\n[b u]Variants panel[/b u]")
    lines.extend(f"  [b]{escape(f'{keys:<22}')}[/b] {text}" for keys, text in VARIANT_KEYS)
    lines.append(
        "\n[b u]Grid[/b u]\n  Lanes S A T B spell each voice's notes; below, one row per pitch."
        "\n  Upper-case letter = a note starts; a line after it = the note is held"
        "\n  (= ~ - _ for S A T B in ASCII). Shaded or : cells = erased, waiting for the model;"
        "\n  digits 0-9 = the model's confidence (t); ! = a counterpoint finding (w)."
        "\n  Header: bar numbers, ' = beats, a fermata sign (^ in ASCII) = a phrase end; dim ="
        "\n  guessed from the melody (F sets or removes one, and the set becomes yours)."
        "\n  The status line shows the key (T sets it; estimated from the melody when unset)."
    )
    return "\n".join(lines).lstrip("\n")


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[Binding]] = [Binding("escape,q,question_mark", "close", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 100%; height: 90%; border: round $accent;
                                  background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("[b]cantor keys[/b]   (esc closes; ctrl+p finds any action by name)\n")
            yield Static(help_text(), id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
