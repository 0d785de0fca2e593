"""The settings form keeps what was typed when one value is wrong; its limits are the CLI's."""

import pytest

from engine.coconet import defaults
from tui.app import CantorApp
from tui.screens.settings import SettingsScreen
from tui.settings import LIMITS, Settings, form_problems

from .conftest import chorale_bar


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


async def test_one_bad_value_keeps_the_whole_form_open_as_typed():
    app = CantorApp(score=chorale_bar(1), load_model=False, autosave=False, ascii_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("comma")
        form = app.screen
        form.query_one("#variants").value = "7"
        form.query_one("#tempo").value = "120"
        form.query_one("#steps").value = "many"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form  # still open, nothing lost
        assert form.query_one("#variants").value == "7"
        assert form.query_one("#tempo").value == "120"
        assert app.focused is form.query_one("#steps")
        assert any("steps must be" in n.message for n in app._notifications)
        assert app.settings.variants == Settings().variants  # nothing applied yet
        form.query_one("#steps").value = "48"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, SettingsScreen)
        assert app.settings.variants == 7 and app.settings.steps == 48
        assert app.editor.doc.score.tempo_bpm == 120


def test_form_problems_name_every_bad_field():
    problems = form_problems(
        {"temperature": "0", "seed": "-1", "programs": "1 2 3", "tempo": "5", "variants": "3"}
    )
    text = "\n".join(problems)
    assert "temperature" in text and "seed" in text and "programs" in text and "tempo" in text
    assert "variants" not in text


def test_the_composer_takes_what_the_command_line_takes():
    assert LIMITS["variants"][2] == defaults.MAX_VARIANTS == 64
    assert LIMITS["seed"][1:] == (0, defaults.MAX_SEED)
    assert LIMITS["temperature"][1:] == (defaults.MIN_TEMPERATURE, defaults.MAX_TEMPERATURE)
    assert LIMITS["steps"][2] == defaults.MAX_STEPS
    settings = Settings(seed=defaults.MAX_SEED)
    settings.next_seed()
    assert 0 <= settings.next_seed() <= defaults.MAX_SEED  # advancing wraps, never overflows
