"""Playback as a musician hears it: the view follows the playhead, mute/solo act at once, and C
libraries' stderr never reaches the grid. Sound goes to ALSA's null device (a throw-away HOME)."""

import json
import shlex
import sys
import time

import pytest

from tui.app import CantorApp
from tui.default_score import default_score

from .conftest import wait_until
from .test_terminal import REPO, TMUX, Terminal


@pytest.fixture
def null_sound(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.!default { type null }\n")  # ALSA plays into nothing
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CANTOR_SOUNDFONT", "")
    return home


async def started(pilot, editor) -> None:
    await pilot.press("ctrl+a", "space")
    ok = await wait_until(pilot, lambda: editor._playing or editor._audio_error is not None, 30)
    if editor._audio_error is not None:
        pytest.skip(f"no sound device in this process: {editor._audio_error}")
    assert ok


async def test_mute_and_solo_while_playing_change_what_plays_at_once(null_sound):
    app = CantorApp(score=default_score(), load_model=False, ascii_only=True, autosave=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        editor = app.editor
        await started(pilot, editor)
        voices = {event[2] for event in editor._player._session.schedule.events}
        assert voices == {0, 1, 2, 3}
        await pilot.press("m")  # mute the soprano, mid-play
        await pilot.pause()
        assert editor._playing
        voices = {event[2] for event in editor._player._session.schedule.events}
        assert voices == {1, 2, 3}
        await pilot.press("4", "s")  # solo the bass
        await pilot.pause()
        voices = {event[2] for event in editor._player._session.schedule.events}
        assert voices == {3}
        await pilot.press("space")


async def test_the_view_follows_the_playhead_off_screen(null_sound):
    app = CantorApp(score=default_score(), load_model=False, ascii_only=True, autosave=False)
    async with app.run_test(size=(60, 24)) as pilot:  # narrow: a few bars fit
        await pilot.pause()
        editor = app.editor
        await pilot.press("home")
        width = editor.roll.size.width - 5
        await started(pilot, editor)
        # The null device plays a loop as fast as it can: the playhead soon passes the screen.
        ok = await wait_until(pilot, lambda: (editor.roll.playhead or 0) > width + 8, 20)
        assert ok, editor.roll.playhead
        await pilot.pause(0.2)
        head, left = editor.roll.playhead, editor.roll.scroll_offset.x
        if head is not None:
            assert left <= head * editor.roll.zoom < left + width + 8, (head, left)
        assert editor.roll.scroll_offset.x > 0
        await pilot.press("space")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_native_stderr_never_reaches_the_screen(tmp_path):
    """A C library writing to fd 2 while the composer runs (as ALSA does on an underrun)."""
    script, seen = tmp_path / "chatty.py", tmp_path / "seen.json"
    script.write_text(
        "import ctypes, json, os, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from tui.app import CantorApp\n"
        "class Chatty(CantorApp):\n"
        "    def on_ready(self):\n"
        "        libc = ctypes.CDLL(None)\n"
        "        self.set_interval(0.2, lambda: libc.write(2, b'ALSA underrun occurred\\n', 23))\n"
        "        fds = {n: os.readlink(f'/proc/self/fd/{n}') for n in (1, 2)}\n"
        f"        open({str(seen)!r}, 'w').write(json.dumps("
        "{'fds': fds, 'size': list(self.size), 'stderr': sys.__stderr__.fileno()}))\n"
        "Chatty(load_model=False, autosave=False).run()\n"
    )
    # Without COLUMNS/LINES from the environment the app fills the whole pane, as in a terminal.
    command = (
        f"cd {shlex.quote(str(REPO))} && env -u COLUMNS -u LINES"
        f" XDG_STATE_HOME={shlex.quote(str(tmp_path))}"
        f" {shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    )
    term = Terminal(tmp_path, f"bash -c {shlex.quote(command + '; sleep 30')}")
    try:
        term.wait_for("bpm")
        time.sleep(1.5)
        shown = term.screen()
    finally:
        term.close()
    # What the app itself saw, for a failure's message: where fd 2 pointed, and its size.
    inside = seen.read_text() if seen.exists() else "(the app wrote nothing)"
    assert "underrun" not in shown and "bpm" in shown, f"{inside}\n{shown}"
    assert json.loads(inside)["fds"]["2"] == "/dev/null", inside
