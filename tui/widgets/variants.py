"""The variants panel: the model's candidates, best first; the screen previews and accepts them."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class VariantList(OptionList, inherit_bindings=False):
    """Up/down (or tab) cycles, enter accepts, space auditions, escape discards."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("up,k,shift+tab", "cursor_up", "previous", show=False),
        Binding("down,j,tab", "cursor_down", "next", show=False),
        Binding("enter", "select", "accept", show=True),
        Binding("space", "audition", "audition", show=True),
        Binding("escape", "discard", "discard", show=True),
    ]

    def action_audition(self) -> None:
        self.post_message(VariantsPanel.Audition(self.highlighted or 0))

    def action_discard(self) -> None:
        self.post_message(VariantsPanel.Discarded())


class VariantsPanel(Vertical):
    """Lists variants with the model's score (mean NLL per generated cell, lower is better)."""

    DEFAULT_CSS = """
    VariantsPanel { dock: right; width: 30; height: 1fr; border-left: solid $accent; }
    VariantsPanel > Static { padding: 0 1; }
    VariantsPanel > VariantList { height: 1fr; }
    """

    class Previewed(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    class Accepted(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    class Audition(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    class Discarded(Message):
        pass

    def __init__(self, kind: str, variants, **kw) -> None:
        super().__init__(**kw)
        self.kind = kind
        self.variants = variants

    def compose(self):
        yield Static(
            f"[b]{self.kind.capitalize()}[/b]: {len(self.variants)} variants\n"
            "NLL: lower = the model likes it more\n"
            "findings: part-writing rule breaks (w)\n"
            "enter accept  space listen\nesc discard  up/down cycle"
        )
        options = [
            Option(f"{i + 1}. NLL {v.nll:.3f}  seed {v.seed}\n   {findings_text(v.score)}", id=str(i))
            for i, v in enumerate(self.variants)
        ]
        yield VariantList(*options, id="variant-list")

    def on_mount(self) -> None:
        listing = self.query_one(VariantList)
        listing.highlighted = 0
        listing.focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.post_message(self.Previewed(event.option_index))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Accepted(event.option_index))


def findings_text(score) -> str:
    """How many part-writing findings (`cantor check`'s rules) a variant has, short enough for the panel."""
    from engine.music.counterpoint import check_score

    count = len(check_score(score).findings)
    return f"findings: {count or 'none'}"
