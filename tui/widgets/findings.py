"""A list of counterpoint findings beside the grid; choosing one moves the cursor to it."""

from __future__ import annotations

from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class FindingsPanel(Vertical):
    DEFAULT_CSS = """
    FindingsPanel { dock: right; width: 34; height: 1fr; border-left: solid $warning; }
    FindingsPanel > Static { padding: 0 1; }
    FindingsPanel > OptionList { height: 1fr; }
    """

    class Jump(Message):
        def __init__(self, step: int, voice: int | None) -> None:
            super().__init__()
            self.step, self.voice = step, voice

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.entries: list[tuple[int, int | None, str]] = []

    def compose(self):
        yield Static("[b]Counterpoint[/b] (w hides)", id="findings-title")
        yield OptionList(id="findings-list")

    def show(self, entries: list[tuple[int, int | None, str]]) -> None:
        """entries: (step, first voice, text)."""
        self.entries = entries
        listing = self.query_one(OptionList)
        listing.clear_options()
        if entries:
            listing.add_options(Option(text) for _, _, text in entries)
        self.query_one("#findings-title", Static).update(
            f"[b]Counterpoint[/b]: {len(entries) or 'no'} finding(s)  (w hides)"
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        step, voice, _ = self.entries[event.option_index]
        self.post_message(self.Jump(step, voice))
