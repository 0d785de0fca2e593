"""ASCII mode in a real terminal: `--ascii`, LANG=C and a Latin-1 locale draw every screen in ASCII.

tmux runs the composer; each screen a user reaches (grid, help, palette, settings, prompts,
questions) is captured and must hold only ASCII characters. Skipped when tmux is missing.
"""

import shlex
import sys
import time

import pytest

from .test_terminal import REPO, TMUX, Terminal

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


def start(tmp_path, env: str, args: str) -> Terminal:
    python = shlex.quote(sys.executable)
    command = (
        f"cd {shlex.quote(str(REPO))} && env -u LC_ALL -u LC_CTYPE {env}"
        f" XDG_STATE_HOME={shlex.quote(str(tmp_path / 'state'))} CANTOR_SOUNDFONT="
        f" {python} -m cli {args}"
    )
    return Terminal(tmp_path, f"bash -c {shlex.quote(command + '; sleep 30')}", size=(90, 28))


def non_ascii(screen: str) -> set[str]:
    return {c for c in screen if not c.isascii()}


def escape(term: Terminal, times: int = 1) -> None:
    """Esc alone: wait, so the next key is not read as part of an escape sequence."""
    for _ in range(times):
        term.keys("Escape")
        time.sleep(0.5)


def every_screen(term: Terminal, ready: str) -> dict[str, str]:
    """Visit the composer's screens; returns what each showed."""
    screens = {"grid": term.wait_for(ready)}
    term.keys("?")
    screens["help"] = term.wait_for("cantor keys")
    escape(term)
    term.keys("C-p")
    term.wait_for("Search")
    term.keys("h", "a", "r", "m")
    screens["palette"] = term.wait_for("Harmonize: keep")
    escape(term, 2)
    term.keys(",")
    screens["settings"] = term.wait_for("Temperature")
    escape(term)
    term.keys("M")
    screens["score"] = term.wait_for("Bars after the pickup")
    escape(term)
    term.keys("C-o")
    screens["prompt"] = term.wait_for("Open a MIDI file")
    escape(term)
    term.keys("c", "q")
    screens["question"] = term.wait_for("unsaved changes")
    term.keys("d")
    return screens


@pytest.mark.parametrize(
    ("env", "args"),
    [
        ("LANG=C.UTF-8", "--ascii {file}"),
        ("LANG=C", "{file}"),
        ("LANG=en_US.ISO-8859-1", "{file}"),
    ],
    ids=["--ascii first", "LANG=C", "ISO-8859-1"],
)
def test_every_screen_is_plain_ascii(tmp_path, env, args):
    target = tmp_path / "song.mid"
    term = start(tmp_path, env, args.format(file=shlex.quote(str(target))))
    try:
        screens = every_screen(term, target.name)
    finally:
        term.close()
    for name, screen in screens.items():
        assert not non_ascii(screen), f"{name} screen draws {non_ascii(screen)}:\n{screen}"
    # The settings form shows its values (one-line inputs, not hidden under an ASCII border).
    assert "0.99" in screens["settings"] and "96" in screens["settings"]
    assert "4/4" in screens["score"]


def test_ascii_alone_opens_the_default_chorale(tmp_path):
    term = start(tmp_path, "LANG=C.UTF-8", "--ascii")
    try:
        shown = term.wait_for("Chorale BWV 66.6 |")
    finally:
        term.close()
    assert not non_ascii(shown), shown
