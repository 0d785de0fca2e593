"""What the composer hands to the browser under `cantor serve`: saved files, and sound to play."""

from __future__ import annotations

import io
import math
import shutil
import tempfile
import time
import wave
from pathlib import Path

from engine.errors import CantorError

MIME_TYPES = {
    ".mid": "audio/midi",
    ".midi": "audio/midi",
    ".wav": "audio/wav",
    ".musicxml": "application/vnd.recordare.musicxml+xml",
    ".xml": "application/xml",
    ".mxl": "application/vnd.recordare.musicxml",
}
# The page plays files delivered inline; these names tell it to loop, or to stop (see the template).
PLAY_NAME, LOOP_NAME, STOP_NAME = "cantor-play.wav", "cantor-play-loop.wav", "cantor-stop.txt"


class OutsideRootError(CantorError):
    """A file prompt named a path outside the folder `cantor serve` shares."""


def in_browser(app) -> bool:
    return bool(getattr(app, "is_web", False))


def user_path(app, value: str) -> Path:
    """The file a prompt's answer names; under `cantor serve` it must lie inside the root folder.

    Relative names are taken from the root; `..`, absolute paths and symlinks are resolved
    first, so none of them leads out.
    """
    path = Path(value).expanduser()
    root = getattr(app, "root", None)
    if root is None:
        return path
    resolved = (root / path).resolve()
    if not resolved.is_relative_to(root):
        raise OutsideRootError(
            f"{value} is outside the folder this server shares; give a name inside it"
        )
    return resolved


def shown_path(app, path: Path) -> str:
    """A path as the prompt shows it: relative to the shared folder when there is one."""
    root = getattr(app, "root", None)
    if root is not None:
        try:
            return str(path.resolve().relative_to(root))
        except ValueError:
            pass
    return str(path)


def send_file(app, path: Path) -> None:
    """In a browser, hand a file just saved or exported to the user as a download."""
    if in_browser(app):
        app.deliver_binary(
            path, save_filename=path.name, mime_type=MIME_TYPES.get(path.suffix.lower())
        )


def toggle_browser_playback(screen, score, start: int, end: int | None, loop: bool) -> None:
    """Play steps [start, end) in a browser: render to WAV and have the page play it (the
    same key again while it plays stops it)."""
    app = screen.app
    if time.monotonic() < getattr(screen, "_browser_playing_until", 0.0):
        screen._browser_playing_until = 0.0
        # A file object: a plain str would be taken for a path.
        app.deliver_text(io.StringIO("stop"), save_filename=STOP_NAME, open_method="browser",
                         mime_type="text/plain")
        return
    screen._browser_playing_until = math.inf  # until the render says how long it lasts
    options = {
        "soundfont": app.settings.soundfont or None,
        "mute": tuple(app.muted),
        "solo": tuple(app.soloed),
    }

    def render() -> None:
        from engine.audio.playback import render_wav

        folder = tempfile.mkdtemp(prefix="cantor-play-")
        try:
            path = render_wav(score, Path(folder) / "play.wav", start=start, end=end, **options)
            with wave.open(str(path)) as wav:
                seconds = wav.getnframes() / wav.getframerate()
            handle = path.open("rb")  # the open file outlives its folder
        except CantorError as exc:
            app.call_from_thread(_failed, screen, str(exc))
            return
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        app.call_from_thread(_deliver_sound, screen, handle, seconds, loop)

    screen.run_worker(render, thread=True, exclusive=True, group="browser-audio",
                      exit_on_error=False)


def _deliver_sound(screen, handle, seconds: float, loop: bool) -> None:
    screen._browser_playing_until = math.inf if loop else time.monotonic() + seconds
    screen.app.deliver_binary(handle, save_filename=LOOP_NAME if loop else PLAY_NAME,
                              open_method="browser", mime_type="audio/wav")
    if not getattr(screen, "_browser_sound_told", False):
        screen._browser_sound_told = True
        screen.app.notify("The browser plays it; space again stops.", timeout=3)


def _failed(screen, message: str) -> None:
    screen._browser_playing_until = 0.0
    screen.app.notify(message, title="Cannot play", severity="error", timeout=8)
