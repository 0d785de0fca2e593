"""The composer under hostile keys and a failing disk: one answer per dialog, autosave failures told."""

from __future__ import annotations

import errno
import os

import numpy as np
from textual import events

from engine.music.midi import save_midi
from engine.music.score import Score
from tui import recovery
from tui.app import CantorApp
from tui.screens.editor import EditorScreen
from tui.screens.prompt import Choice

SIZE = (100, 30)


def _score() -> Score:
    rows = np.array([[72] * 32, [67] * 32, [64] * 32, [48] * 32], dtype=np.int16)
    return Score(rows, title="t")


def _app(path) -> CantorApp:
    return CantorApp(path, load_model=False, ascii_only=True, autosave=True)


async def _at_the_recovery_question(tmp_path, pilot_keys):
    target = tmp_path / "song.mid"
    save_midi(_score(), target)
    recovery.write_recovery(target, _score().transpose(1), np.zeros((4, 32), bool))
    os.utime(target, (1, 1))  # the recovery file is newer than the document
    app = _app(target)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, Choice)
        dialog = app.screen
        for key in pilot_keys:  # queued together, as a burst of typing arrives: all reach the dialog
            dialog.post_message(events.Key(key, key if len(key) == 1 else None))
        await pilot.pause()
        return app, isinstance(app.screen, EditorScreen), len(app.screen_stack)


async def test_two_answers_at_once_leave_the_editor_open(tmp_path):
    for keys in (("y", "y"), ("n", "n"), ("escape", "escape", "escape")):
        _, on_editor, depth = await _at_the_recovery_question(tmp_path, keys)
        assert on_editor and depth == 2, keys  # the default screen and the editor: nothing popped


async def test_an_autosave_failure_is_told_once_and_retried(tmp_path, monkeypatch):
    target = tmp_path / "song.mid"
    save_midi(_score(), target)
    app = _app(target)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        real_replace = os.replace

        def full_disk(*args):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "replace", full_disk)
        await pilot.press("x", "x", "x")
        await pilot.pause()
        failed = [n for n in app._notifications if n.title == "Autosave failed"]
        assert len(failed) == 1 and "the disk is full" in failed[0].message
        monkeypatch.setattr(os, "replace", real_replace)
        await pilot.press("u")
        await pilot.pause()
        assert any(n.title == "Autosave" and "works again" in n.message for n in app._notifications)
        assert recovery.read_recovery(target) is not None or not app.editor.doc.dirty
