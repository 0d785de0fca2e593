"""Under `cantor serve`: file prompts stay in the shared folder, every save and export reaches the
browser, and an export never replaces the open document's own file."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.music.midi import load_midi
from tui.app import CantorApp
from tui.screens.prompt import PathPrompt
from tui.web.delivery import OutsideRootError, user_path

from .tui.conftest import chorale_bar, wait_until

SIZE = (110, 30)


def served_app(root: Path, path: Path | None = None, monkeypatch=None) -> tuple[CantorApp, list]:
    """The composer as `cantor serve` runs it, with the browser hand-off recorded."""
    monkeypatch.setattr(CantorApp, "is_web", property(lambda self: True))
    app = CantorApp(path, score=chorale_bar(2), load_model=False, autosave=False, ascii_only=True)
    app.root = root.resolve()
    delivered: list = []
    app.deliver_binary = lambda file, **kw: delivered.append((file, kw)) or "key"
    return app, delivered


async def answer(pilot, keys: str, value: str) -> None:
    await pilot.press(keys)
    assert await wait_until(pilot, lambda: isinstance(pilot.app.screen, PathPrompt))
    pilot.app.screen.query_one("Input").value = value
    await pilot.press("enter")
    await pilot.pause()


def test_user_path_is_confined_to_the_root(tmp_path):
    root = (tmp_path / "shared").resolve()
    root.mkdir()
    (root / "sub").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside)

    class App:
        pass

    app = App()
    app.root = root
    assert user_path(app, "song.mid") == root / "song.mid"
    assert user_path(app, "sub/../song.mid") == root / "song.mid"
    assert user_path(app, str(root / "sub" / "a.mid")) == root / "sub" / "a.mid"
    for bad in ("../x.mid", str(outside / "x.mid"), "link/x.mid", "/etc/passwd", "sub/../../x"):
        with pytest.raises(OutsideRootError, match="outside the folder this server shares"):
            user_path(app, bad)
    app.root = None  # the terminal composer: no confinement
    assert user_path(app, "../x.mid") == Path("../x.mid")


async def test_prompts_refuse_paths_outside_the_root(tmp_path, monkeypatch):
    root = tmp_path / "shared"
    root.mkdir()
    (root / "escape").symlink_to(tmp_path)
    app, delivered = served_app(root, monkeypatch=monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for value in ("../evil.mid", str(tmp_path / "evil.mid"), "escape/evil.mid"):
            await answer(pilot, "ctrl+s", value)
            await answer(pilot, "ctrl+e", value.replace(".mid", ".musicxml"))
        await answer(pilot, "ctrl+o", "../evil.mid")
        assert app.editor.doc.path is None  # nothing opened, nothing saved
        assert sorted(p.name for p in tmp_path.iterdir()) == ["shared"]
        assert not delivered
        await answer(pilot, "ctrl+s", "inside")
        assert await wait_until(pilot, lambda: delivered)
    assert load_midi(root / "inside.mid").pitches.shape[0] == 4
    file, options = delivered[0]
    assert Path(file) == root.resolve() / "inside.mid"
    assert options["save_filename"] == "inside.mid" and options["mime_type"] == "audio/midi"


async def test_every_save_and_export_reaches_the_browser(tmp_path, monkeypatch):
    app, delivered = served_app(tmp_path, tmp_path / "song.mid", monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+s")  # the document's own file: no prompt
        await pilot.pause()
        for name in ("song.musicxml", "song.wav", "copy.mid"):
            await answer(pilot, "ctrl+e", name)
        assert await wait_until(pilot, lambda: len(delivered) == 4)
    names = [options["save_filename"] for _, options in delivered]
    assert names == ["song.mid", "song.musicxml", "song.wav", "copy.mid"]
    for file, _ in delivered:
        assert Path(file).parent == tmp_path.resolve() and Path(file).stat().st_size > 100


async def test_an_export_never_replaces_the_open_document(tmp_path, monkeypatch):
    song = tmp_path / "song.mid"
    app, delivered = served_app(tmp_path, song, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        before = song.read_bytes()
        await pilot.press("J")  # an unsaved edit that an export to song.mid would write
        await answer(pilot, "ctrl+e", "song.mid")
        assert song.read_bytes() == before
        assert len(delivered) == 1  # only the save
        assert app.editor.doc.dirty
