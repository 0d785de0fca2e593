"""Settings applied in the form outlive the app; a bad settings file never stops it."""

import json

import pytest

from engine.audio.soundfont import TINY_SOUNDFONT
from tui.app import CantorApp
from tui.settings import Settings
from tui.settings_store import user_settings_path

from .conftest import chorale_bar

SIZE = (100, 30)


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    """Settings go to a throw-away XDG_CONFIG_HOME, never the user's."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def make_app(**kw) -> CantorApp:
    return CantorApp(score=chorale_bar(1), load_model=False, autosave=False, ascii_only=True, **kw)


async def apply_form(pilot, **values) -> None:
    await pilot.press("comma")
    for name, value in values.items():
        pilot.app.screen.query_one(f"#{name}").value = value
    await pilot.press("ctrl+s")
    await pilot.pause()


async def test_applied_settings_are_there_after_a_restart(config_home):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await apply_form(pilot, variants="7", temperature="0.5", soundfont=str(TINY_SOUNDFONT))
        assert app.settings.variants == 7
    saved = config_home / "cantor" / "settings.json"
    assert json.loads(saved.read_text())["variants"] == 7

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        expected = Settings(variants=7, temperature=0.5, soundfont=str(TINY_SOUNDFONT))
        assert app.settings.saved_values() == expected.saved_values()
        assert not app._notifications
        await pilot.press("comma")
        assert app.screen.query_one("#variants").value == "7"
        saved_in = str(app.screen.query_one("#saved-in").content)
        assert "cantor/settings.json" in saved_in


async def test_a_soundfont_that_is_not_there_is_refused_in_the_form(tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await apply_form(pilot, variants="5", soundfont=str(tmp_path / "missing.sf2"))
        assert app.screen.__class__.__name__ == "SettingsScreen"  # stays open, as typed
        assert app.settings.variants == 4 and app.settings.soundfont == ""
        told = [n.message for n in app._notifications]
        assert any("missing.sf2 does not exist" in m for m in told)
        text = tmp_path / "notes.sf2"
        text.write_text("not a soundfont")
        app.screen.query_one("#soundfont").value = str(text)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("is not a SoundFont" in n.message for n in app._notifications)
        assert app.settings.soundfont == ""


async def test_bad_file_starts_with_defaults_and_is_left_until_applied():
    path = user_settings_path()
    path.parent.mkdir(parents=True)
    text = '{"steps": 0, "variants": 3, "colour": "blue"}'
    path.write_text(text)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.settings.steps == 96 and app.settings.variants == 3
        [notice] = [n for n in app._notifications if n.title == "Settings"]
        assert str(path) in notice.message and "\n" not in notice.message
        assert "steps must be in range 1..10000" in notice.message and "colour" in notice.message
        await pilot.press("comma", "escape")  # looking at the form is not applying it
        await pilot.pause()
    assert path.read_text() == text

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await apply_form(pilot, steps="40")
    assert json.loads(path.read_text()) == {"steps": 40, "variants": 3}  # only what differs


async def test_bad_form_writes_nothing():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await apply_form(pilot, steps="lots")
        assert app.settings.steps == 96
    assert not user_settings_path().exists()


async def test_failed_save_says_so_and_keeps_the_setting(tmp_path):
    (tmp_path / "blocked").write_text("a file where a folder should be")
    app = make_app(settings_path=tmp_path / "blocked" / "settings.json")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await apply_form(pilot, variants="5")
        assert app.settings.variants == 5
        [failed] = [n for n in app._notifications if n.title == "Settings not saved"]
        assert failed.severity == "error" and "\n" not in failed.message
        assert "blocked" in failed.message and "kept for this session only" in failed.message
    assert not user_settings_path().exists()


async def test_the_model_setting_switches_the_composer_and_outlives_the_app(config_home):
    """Real checkpoints: the form's Model loads the fast net for the next request, and back."""
    import asyncio

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        standard = await asyncio.to_thread(app.wait_for_composer)
        assert standard.model.config.inner == 0
        assert "model:" not in str(app.editor.query_one("#status").content)
        await apply_form(pilot, model="Fast")
        assert app.settings.model == "fast"
        assert any("Model: fast" in n.message for n in app._notifications)
        assert "model: fast" in str(app.editor.query_one("#status").content)
        fast = await asyncio.to_thread(app.wait_for_composer)
        assert fast is not standard and fast.model.config.inner == 16
        await apply_form(pilot, variants="2")  # another setting: the model stays loaded
        assert await asyncio.to_thread(app.wait_for_composer) is fast
    assert json.loads((config_home / "cantor" / "settings.json").read_text())["model"] == "fast"

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert (await asyncio.to_thread(app.wait_for_composer)).model.config.inner == 16
        await apply_form(pilot, model="tiny")
        assert app.settings.model == "fast"
        assert any("model must be one of standard, fast" in n.message for n in app._notifications)


async def test_a_checkpoint_holds_until_the_form_names_a_model(tmp_path):
    """--checkpoint wins over the saved Model; applying other settings keeps it."""
    import asyncio

    from engine.coconet.loading import FAST_COCONET

    app = make_app(checkpoint=str(FAST_COCONET), settings=Settings(model="standard"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert (await asyncio.to_thread(app.wait_for_composer)).model.config.inner == 16
        assert "model: coconet-fast.pt" in str(app.editor.query_one("#status").content)
        await pilot.press("comma")
        assert app.screen.query_one("#model").value == ""  # empty: the file in use
        await pilot.press("escape")
        await apply_form(pilot, steps="40")
        assert (await asyncio.to_thread(app.wait_for_composer)).model.config.inner == 16
        await apply_form(pilot, model="standard", steps="40")
        assert (await asyncio.to_thread(app.wait_for_composer)).model.config.inner == 0
        assert app.checkpoint is None
