"""`CantorApp`: the composer. Opens a file or the default chorale, loads the model in the background."""

from __future__ import annotations

import locale
import os
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import numpy as np
from textual._context import active_app
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.scrollbar import ScrollBar, ScrollBarRender

from engine.errors import CantorError
from engine.music.score import Score
from tui import keys, recovery
from tui.default_score import HINT, default_score
from tui.document import Document
from tui.screens.editor import EditorScreen
from tui.screens.prompt import Choice
from tui.settings import Settings
from tui.settings_store import load_settings, save_settings, user_settings_path

NEW_SCORE_BARS = 8


def _locale_coerced(environ) -> bool:
    """True when Python itself set LC_CTYPE=C.UTF-8 at start-up (PEP 538) over a C locale.

    Python coerces only a C/POSIX locale, and then also turns on UTF-8 mode (PEP 540) unless
    PYTHONUTF8 or -X utf8 decide it; a user's own LC_CTYPE=C.UTF-8 leaves UTF-8 mode off.
    """
    ctype = environ.get("LC_CTYPE", "").lower().replace("-", "")
    return (
        ctype == "c.utf8"
        and not environ.get("LC_ALL")
        and sys.flags.utf8_mode == 1
        and "PYTHONUTF8" not in environ
        and "utf8" not in sys._xoptions
    )


def plain_ascii_terminal(environ=None) -> bool:
    """True when the terminal cannot be trusted with UTF-8 (or the user asks for ASCII)."""
    environ = os.environ if environ is None else environ
    if environ.get("CANTOR_ASCII", "") not in ("", "0"):
        return True
    # The locale the user set, not the C.UTF-8 Python substitutes for a C locale.
    names = ("LANG",) if _locale_coerced(environ) else ("LC_ALL", "LC_CTYPE", "LANG")
    for name in names:
        value = environ.get(name)
        if value:
            return "utf-8" not in value.lower() and "utf8" not in value.lower()
    if names == ("LANG",):
        return True  # coerced from no locale at all: the C locale
    return "utf" not in locale.getpreferredencoding(False).lower()


def palette_title(action: str, description: str) -> str:
    """"Harmonize: keep the ..." - the palette finds an action by the name the key bar uses."""
    base = action.split("(")[0]
    name = keys.SHORT.get(base, base if base in ("transpose", "zoom", "heatmap") else "")
    if not name or name.lower() in description.lower():
        return description[0].upper() + description[1:]
    return f"{name.capitalize()}: {description}"


class _AsciiScrollBarRender(ScrollBarRender):
    """Scrollbars of an ASCII composer: a reversed blank thumb, no eighth-block glyphs."""

    VERTICAL_BARS: ClassVar[list[str]] = [" "] * 8
    HORIZONTAL_BARS: ClassVar[list[str]] = [" "] * 8

    @classmethod
    def render_bar(cls, *args, **kwargs):
        if getattr(active_app.get(None), "ascii_only", False):
            return super().render_bar(*args, **kwargs)
        return ScrollBarRender.render_bar(*args, **kwargs)


# Textual picks one renderer for every scrollbar; this one asks the running app which glyphs to use.
ScrollBar.renderer = _AsciiScrollBarRender


class CantorApp(App):
    """Keyboard-first pianoroll editor for four-part counterpoint."""

    CSS_PATH = Path(__file__).parent / "cantor.tcss"
    TITLE = "cantor"

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        score: Score | None = None,
        report: str | None = None,
        checkpoint: str | os.PathLike | None = None,
        model: str | None = None,
        accompany_checkpoint: str | os.PathLike | None = None,
        load_model: bool = True,
        ascii_only: bool | None = None,
        autosave: bool = True,
        settings: Settings | None = None,
        settings_path: str | os.PathLike | None = None,
    ) -> None:
        """`settings` given: used as they are; otherwise read from `settings_path` (default: the
        user's settings file). Applying the settings form writes them to that file."""
        super().__init__()
        self.path = Path(path) if path else None
        self.initial_score = score
        self.report = report
        self.checkpoint = checkpoint
        self.accompany_checkpoint = accompany_checkpoint
        self.load_model = load_model
        self.ascii_only = plain_ascii_terminal() if ascii_only is None else ascii_only
        self.autosave = autosave
        self.settings_path = Path(settings_path) if settings_path else user_settings_path()
        self._settings_notice = None
        if settings is None:
            settings, self._settings_notice = load_settings(self.settings_path)
        self.settings = settings
        if model is not None:  # --model: this session's choice (saved only if the form is applied)
            self.settings.model = model
        self.settings.on_applied = self._save_settings
        self.muted: set[int] = set()
        self.soloed: set[int] = set()
        self._composer = None
        self._composer_error: str | None = None
        self._composer_ready = threading.Event()
        self._composer_for = None  # the checkpoint `_composer` (or its error) came from
        self._composer_lock = threading.Lock()
        self.started = time.perf_counter()
        if self.ascii_only:
            self.add_class("-ascii")

    def run(self, *args, **kwargs):
        """Run in the terminal; C libraries' stderr (ALSA's "underrun occurred") stays off screen."""
        from engine.audio.synth import detach_native_stderr

        detach_native_stderr()
        return super().run(*args, **kwargs)

    # --- start ---------------------------------------------------------------------------------

    def _first_document(self) -> tuple[Document, str | None]:
        hint = None
        if self.initial_score is not None:
            score = self.initial_score
        elif self.path is not None and self.path.exists():
            from engine.music.load import load_score_report

            score, report = load_score_report(self.path)
            self.report = report.summary()
        elif self.path is not None:
            score = Score.empty(NEW_SCORE_BARS * 16, title=self.path.stem)
            hint = (
                f"New file {self.path.name}: type notes with c d e f g a b, enter, 5-9 for lengths."
            )
        else:
            score = default_score()
            hint = HINT
        return Document(score, self.path, autosave=self.autosave), hint

    def on_mount(self) -> None:
        document, hint = self._first_document()
        self.editor = EditorScreen(document)
        self.push_screen(self.editor)
        if self.report:
            self.notify(self.report, title=f"Opened {self.path.name}", timeout=6)
        if hint:
            self.notify(hint, timeout=8)
        if self._settings_notice:
            self.notify(self._settings_notice, title="Settings", severity="warning", timeout=10)
        if self.autosave:
            recovery.AUTOSAVE.connect(self._autosave_told)
            self.call_after_refresh(self._offer_recovery, document)
        if self.load_model:
            # After the first frame: importing torch must not delay it.
            self.set_timer(0.05, self._start_loading)

    def _autosave_told(self, message: str, failed: bool) -> None:
        if failed:
            self.notify(message, title="Autosave failed", severity="error", timeout=15)
        else:
            self.notify(message, title="Autosave")

    def _offer_recovery(self, document: Document) -> None:
        found = recovery.read_recovery(document.path)
        if found is None or (found.score == document.score  # key, meter, fermatas... count too
                             and np.array_equal(found.erased, document.erased)):
            return
        when = time.strftime("%H:%M:%S", time.localtime(found.saved_at))

        def answered(key: str) -> None:
            own = recovery.session_path(document.path)
            if key == "y":
                document.commit(found.score, found.erased, "recover")  # autosaves to `own`
                if found.path != own:  # an ended untitled session's file: now ours
                    found.path.unlink(missing_ok=True)
                self.editor.set_document(document)
                self.notify("Recovered your unsaved edits (u undoes that).", timeout=4)
            elif key == "n":
                found.path.unlink(missing_ok=True)
            else:  # undecided: the next autosave would overwrite them, so keep them aside
                kept = recovery.set_aside(document.path, found.path)
                if kept is not None:
                    self.notify(f"Unsaved edits kept in {kept}", timeout=8)

        name = document.path.name if document.path else "the untitled score"
        self.clear_notifications()  # a toast must not cover the question
        self.push_screen(
            Choice(
                f"Unsaved edits of {name} from {when} were found.\nRecover them?",
                {"y": "recover", "n": "discard them"},
                "keep them aside",
            ),
            answered,
        )

    def _save_settings(self, settings: Settings) -> None:
        try:
            save_settings(settings, self.settings_path)
        except CantorError as exc:
            self.notify(
                f"{exc}; kept for this session only",
                title="Settings not saved",
                severity="error",
                timeout=10,
            )

    # --- the model, loaded in a thread -------------------------------------------------------

    def model_checkpoint(self):
        """The checkpoint the composer loads: --checkpoint, else the settings' model (None: the
        standard model's file)."""
        if self.checkpoint:
            return self.checkpoint
        from engine.coconet.defaults import DEFAULT_MODEL

        if self.settings.model == DEFAULT_MODEL:
            return None
        from engine.coconet.loading import model_checkpoint

        return model_checkpoint(self.settings.model)

    def use_model(self, name: str) -> None:
        """Write with the shipped model `name` from the next request on (the settings form's
        "Model"; it replaces a --checkpoint). A request already running keeps its model."""
        self.checkpoint = None
        self.settings.model = name
        if self.load_model:  # loaded now, in the background; else at the next request
            self._start_loading()
        self.notify(f"Model: {name} (from the next request on).", timeout=4)

    def _start_loading(self) -> None:
        # A daemon thread, not a Textual worker: quitting must not wait for torch to import.
        threading.Thread(target=self._load_composer, name="cantor-model", daemon=True).start()

    def _load_composer(self) -> None:
        self._load_composer_now()
        if self._composer_error:  # say so now, not when the user first asks the model
            try:
                self.call_from_thread(
                    self.notify,
                    f"{self._composer_error}\nEditing, playing and saving still work.",
                    title="Model not loaded",
                    severity="error",
                    timeout=12,
                )
            except RuntimeError:
                pass  # the app has already quit

    def _load_composer_now(self) -> None:
        """Load the model once (again after `use_model`), in whichever thread asks first."""
        with self._composer_lock:
            wanted = self.checkpoint or self.settings.model
            if self._composer_ready.is_set() and self._composer_for == wanted:
                return
            self._composer, self._composer_error = None, None
            try:
                from engine.coconet.composer import Composer

                self._composer = Composer(self.model_checkpoint()).load()
            except CantorError as exc:
                self._composer_error = str(exc)
            except Exception as exc:  # noqa: BLE001 - no model must not stop editing
                self._composer_error = f"{type(exc).__name__}: {exc}"
            finally:
                self._composer_for = wanted
                self._composer_ready.set()

    def wait_for_composer(self):
        """The loaded Composer (call from a worker thread; may load it); raises CantorError."""
        self._load_composer_now()
        if self._composer is None:
            raise CantorError(f"the model is not available: {self._composer_error}")
        return self._composer

    async def action_quit(self) -> None:
        """ctrl+q is the app's own key: it asks about unsaved changes like q does."""
        editor = getattr(self, "editor", None)
        if editor is not None and editor.is_attached:
            editor.action_quit()
        else:
            self.exit()

    # --- files -------------------------------------------------------------------------------

    def open_file(self, path: Path) -> None:
        from engine.music.load import load_score_report

        try:
            score, report = load_score_report(path)
        except CantorError as exc:
            self.notify(str(exc), title="Cannot open", severity="error", timeout=8)
            return
        document = Document(score, path, autosave=self.autosave)
        self.editor.set_document(document)
        self.notify(report.summary(), title=f"Opened {path.name}", timeout=6)
        if self.autosave:
            self._offer_recovery(document)

    # --- command palette: every action of the editor -------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        editor = getattr(self, "editor", None)
        if editor is None or screen is not editor:
            yield from super().get_system_commands(screen)
            return
        seen = set()
        for key in keys.KEYS:
            if not key.action or key.action in ("command_palette",) or key.description in seen:
                continue
            seen.add(key.description)
            title = palette_title(key.action, key.description)

            def run(action: str = key.action) -> None:
                self.call_later(editor.run_action, action)

            yield SystemCommand(title, f"{key.group} - key: {keys._pretty(key.keys)}", run)
        yield SystemCommand(
            "Take a screenshot", "Save an SVG of the screen", self.deliver_screenshot
        )
