"""The command palette finds actions by their key-bar names; help shows every key as typed."""

import pytest
from textual.command import CommandPalette
from textual.widgets import Static

from tui.app import CantorApp, plain_ascii_terminal
from tui.screens.help import HelpScreen

SIZE = (100, 30)


def make_app(**kw) -> CantorApp:
    kw.setdefault("ascii_only", True)
    return CantorApp(load_model=False, autosave=False, **kw)


@pytest.mark.parametrize("word", ["harmonize", "infill", "transpose"])
async def test_palette_finds_actions_by_the_names_the_readme_uses(word):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        for letter in word:
            await pilot.press(letter)
        await pilot.pause(0.5)
        hits = [str(option.prompt) for option in app.screen.query_one("CommandList").options]
        assert any(h.lower().startswith(word) for h in hits), hits
        await pilot.press("enter")  # runs the best match on the editor
        await pilot.pause()
        assert not isinstance(app.screen, CommandPalette)


async def test_help_shows_square_brackets_not_markup():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = str(app.screen.query_one("#help-text", Static).render())
        beat = next(line for line in shown.splitlines() if "previous beat" in line)
        assert beat.split()[0] == "[" and "[/b]" not in shown
        assert any(line.split()[:1] == ["]"] for line in shown.splitlines())


async def test_ascii_scrollbars_draw_no_block_glyphs():
    app = make_app()
    async with app.run_test(size=(100, 20)) as pilot:  # short: the help must scroll
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        await pilot.press("down", "down", "down")
        await pilot.pause()
        bar = app.screen.query_one("VerticalScroll").vertical_scrollbar
        drawn = "".join(seg.text for seg in app.console.render(bar.render(), app.console.options))
        assert drawn and drawn.isascii(), repr(drawn)


@pytest.mark.parametrize(
    ("environ", "ascii_only"),
    [
        ({"LANG": "C"}, True),
        ({"LANG": "en_US.ISO-8859-1"}, True),
        ({"LANG": "en_US.UTF-8"}, False),
        ({"LC_ALL": "C.UTF-8", "LANG": "C"}, False),
        ({"CANTOR_ASCII": "1", "LANG": "C.UTF-8"}, True),
    ],
)
def test_the_locale_the_user_set_decides(environ, ascii_only):
    assert plain_ascii_terminal(environ) is ascii_only
