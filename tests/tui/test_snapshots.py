"""Screenshots of the composer compared with stored SVG snapshots (pytest-textual-snapshot).

Update them after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

import pytest

from engine.coconet.composer import Variant
from tui.app import CantorApp
from tui.default_score import default_score
from tui.playback import PlaybackActions


@pytest.fixture(autouse=True)
def no_sound_route(monkeypatch):
    """Where sound goes depends on the machine (and arrives from a thread): not in snapshots."""
    monkeypatch.setattr(PlaybackActions, "detect_sound", lambda self: None)


def chorale_app(**kw) -> CantorApp:
    score = default_score().slice(0, 4 + 4 * 16)  # pickup + four bars
    return CantorApp(score=score, load_model=False, autosave=False, **kw)


async def quiet(pilot) -> None:
    pilot.app.clear_notifications()
    await pilot.pause()


def test_main_screen_in_colour(snap_compare):
    async def run_before(pilot):
        await pilot.press("right_curly_bracket", "2", "v", "l", "l", "l", "shift+down")
        await quiet(pilot)

    assert snap_compare(
        chorale_app(ascii_only=False), run_before=run_before, terminal_size=(110, 32)
    )


def test_main_screen_ascii_monochrome(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")

    async def run_before(pilot):
        await pilot.press("right_curly_bracket", "right_curly_bracket", "V", "x", "escape")
        await quiet(pilot)

    assert snap_compare(chorale_app(ascii_only=True), run_before=run_before, terminal_size=(80, 24))


def test_help_screen(snap_compare):
    async def run_before(pilot):
        await quiet(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(
        chorale_app(ascii_only=False), run_before=run_before, terminal_size=(100, 40)
    )


def test_variants_panel(snap_compare):
    async def run_before(pilot):
        editor = pilot.app.editor
        await pilot.press("V", "x")
        base = editor.doc.score
        first = base.with_cells(editor.doc.erased, default_score().pitches[:, : base.num_steps])
        second = first.transpose(2, voices=(1,))
        editor.show_variants("infill", [Variant(first, 1.234, 7), Variant(second, 1.5, 8)], (0, 4))
        await pilot.press("down")
        await quiet(pilot)

    assert snap_compare(
        chorale_app(ascii_only=False), run_before=run_before, terminal_size=(110, 32)
    )
