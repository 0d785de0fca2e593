"""Small things a musician trips over: bar selections, ctrl+n, a bad model, quitting, titles."""

import shlex
import sys
import time

import pytest

from engine.music.analysis import key_description
from tui.app import CantorApp
from tui.screens.prompt import Choice

from .conftest import chorale_bar, wait_until
from .test_terminal import REPO, TMUX, Terminal

SIZE = (100, 30)


def make_app(score=None, **kw) -> CantorApp:
    kw.setdefault("load_model", False)
    return CantorApp(score=score or chorale_bar(4), ascii_only=True, autosave=False, **kw)


async def test_v_then_next_bar_selects_one_bar_and_beats_one_beat():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        await pilot.press("v", "right_curly_bracket")
        assert doc.selection.length == 16
        await pilot.press("right_curly_bracket")
        assert doc.selection.length == 32
        await pilot.press("escape", "home", "v", "right_square_bracket")
        assert doc.selection.length == 4
        await pilot.press("escape", "end", "left_curly_bracket", "v")
        await pilot.press("right_curly_bracket", "right_curly_bracket")  # the last bar, whole
        assert (doc.selection.start, doc.selection.end) == (48, 64)


async def test_ctrl_n_asks_before_composing_over_the_score():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        editor = app.editor
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, Choice) and "Compose a new score" in app.screen.question
        score = editor.doc.score  # the question says what the new score will be
        num, den = score.time_signature
        assert f"8 bars of {num}/{den}" in app.screen.question
        assert (f"in {key_description(score.key)}" if score.key else "in a key drawn") in (
            app.screen.question)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is editor and not editor.busy
        assert editor.doc.score.same_notes(chorale_bar(4))


async def test_a_bad_checkpoint_is_told_at_start(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"this is no checkpoint")
    app = make_app(checkpoint=bad, load_model=True)
    async with app.run_test(size=SIZE) as pilot:

        def told():
            return any(n.title == "Model not loaded" for n in app._notifications)

        assert await wait_until(pilot, told, 60)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_q_quits_within_a_second(tmp_path, tiny_checkpoint):
    """Once the model has loaded (while torch's libraries load, the GIL holds every key)."""
    python = shlex.quote(sys.executable)
    command = (
        f"cd {shlex.quote(str(REPO))} && env XDG_STATE_HOME={shlex.quote(str(tmp_path))}"
        f" {python} -m cli --ascii --checkpoint {shlex.quote(str(tiny_checkpoint))};"
        " echo CANTOR-ENDED; sleep 30"
    )
    term = Terminal(tmp_path, f"bash -c {shlex.quote(command)}")
    try:
        term.wait_for("bpm")
        time.sleep(8)  # the model loads in the background meanwhile
        started = time.monotonic()
        term.keys("q")
        term.wait_for("CANTOR-ENDED", 20)
        took = time.monotonic() - started
    finally:
        term.close()
    assert took < 1.5, f"q took {took:.1f} s"


async def test_on_an_80_column_terminal_the_status_wraps_instead_of_losing_key_and_sound():
    from .test_snapshots import chorale_app

    app = chorale_app(ascii_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        status = app.editor.query_one("#status")
        text = str(status.render())
        assert "key:" in text and "sound" in text
        assert status.size.height == 2 and len(text) <= 2 * status.size.width
    app = chorale_app(ascii_only=True)
    async with app.run_test(size=(160, 30)) as pilot:  # wide: one line, as before
        await pilot.pause(0.3)
        assert app.editor.query_one("#status").size.height == 1
