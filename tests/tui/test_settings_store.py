"""The settings file: round trip, missing, damaged, wrong and unknown values, failed saves."""

import json
import resource
import signal

import pytest

from engine.errors import CantorError
from tui.settings import Settings
from tui.settings_store import load_settings, save_settings, user_settings_path


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    """Settings go to a throw-away XDG_CONFIG_HOME, never the user's."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_path_follows_xdg_config_home(config_home):
    assert user_settings_path() == config_home / "cantor" / "settings.json"


def test_relative_xdg_config_home_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_settings_path() == tmp_path / "home" / ".config" / "cantor" / "settings.json"


def test_round_trip_creates_the_folder():
    path = user_settings_path()
    chosen = Settings(
        temperature=0.7, steps=50, variants=2, seed=42, polish=0, repair=3, soundfont="/sf/a.sf2",
        sound_server="tcp:localhost:24713", chords="2", midi_input="Keystation",
        midi_output="synth:in", model="fast",
    )
    save_settings(chosen, path)
    loaded, notice = load_settings(path)
    assert notice is None
    assert loaded == chosen
    assert json.loads(path.read_text()) == {
        "temperature": 0.7,
        "steps": 50,
        "variants": 2,
        "seed": 42,
        "polish": 0,
        "repair": 3,
        "model": "fast",
        "soundfont": "/sf/a.sf2",
        "sound_server": "tcp:localhost:24713",
        "chords": "2",
        "midi_input": "Keystation",
        "midi_output": "synth:in",
    }
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temporary left


def test_only_values_that_differ_from_the_defaults_are_saved():
    # A value left at its default is not written, so it follows the defaults of later versions;
    # one changed and changed back is not written either.
    path = user_settings_path()
    save_settings(Settings(variants=2, repair=Settings().repair), path)
    assert json.loads(path.read_text()) == {"variants": 2}
    assert load_settings(path) == (Settings(variants=2), None)
    save_settings(Settings(), path)
    assert json.loads(path.read_text()) == {}
    assert load_settings(path) == (Settings(), None)


def test_a_file_written_by_an_older_version_keeps_its_values():
    path = write(user_settings_path(), '{"temperature": 0.99, "steps": 96, "repair": 6}')
    loaded, notice = load_settings(path)
    assert notice is None and loaded.repair == 6 and loaded.steps == 96


def test_missing_file_gives_defaults_silently():
    path = user_settings_path()
    assert load_settings(path) == (Settings(), None)
    assert not path.parent.exists()  # reading creates nothing


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"steps": 12,', "not valid JSON (line 1, column 14)"),
        ("", "not valid JSON (line 1, column 1)"),
        ("[96, 4]", "not a JSON object"),
        ('{"steps": 1' + "0" * 5000 + "}", "not valid settings JSON"),
    ],
)
def test_damaged_file_gives_defaults_and_stays(text, said):
    path = write(user_settings_path(), text)
    settings, notice = load_settings(path)
    assert settings == Settings()
    assert str(path) in notice and said in notice and "\n" not in notice
    assert path.read_text() == text


def test_unreadable_file_gives_defaults():
    path = user_settings_path()
    path.mkdir(parents=True)  # a folder where the file should be
    settings, notice = load_settings(path)
    assert settings == Settings() and "cannot read it" in notice
    path.rmdir()
    path.write_bytes(b'{"soundfont": "\xff"}')
    settings, notice = load_settings(path)
    assert settings == Settings() and "not UTF-8" in notice


def test_wrong_types_are_ignored_one_by_one():
    data = {
        "temperature": "hot",
        "steps": "50",
        "variants": True,
        "seed": 7,
        "polish": 2.5,
        "soundfont": ["a.sf2"],
    }
    path = write(user_settings_path(), json.dumps(data))
    settings, notice = load_settings(path)
    assert settings == Settings(seed=7)
    for said in (
        'temperature must be a number; got "hot"',
        'steps must be a whole number; got "50"',
        "variants must be a whole number; got true",
        "polish must be a whole number; got 2.5",
        'soundfont must be text; got ["a.sf2"]',
    ):
        assert said in notice
    assert "seed" not in notice and "\n" not in notice


def test_out_of_range_values_are_ignored():
    text = '{"temperature": 50, "steps": 0, "variants": 65, "seed": -1, "polish": 2000}'
    path = write(user_settings_path(), text)
    settings, notice = load_settings(path)
    assert settings == Settings(polish=2000)
    assert "temperature must be in range 0.01..10.0; got 50" in notice
    assert "steps must be in range 1..10000; got 0" in notice
    assert "variants must be in range 1..64; got 65" in notice
    assert "seed must be in range 0..4294967295; got -1" in notice
    path = write(path, '{"temperature": NaN, "steps": 12}')
    settings, notice = load_settings(path)
    assert settings == Settings(steps=12) and "temperature must be in range" in notice


def test_unknown_keys_are_named_and_the_rest_is_kept():
    long_name = "k" * 100
    path = write(user_settings_path(), json.dumps({"colour": "blue", "steps": 50, long_name: 1}))
    settings, notice = load_settings(path)
    assert settings == Settings(steps=50)
    assert 'unknown setting "colour"' in notice
    assert long_name not in notice and 'unknown setting "kkkk' in notice  # cut short


def test_soundfont_is_trimmed_and_a_float_temperature_may_be_whole():
    path = write(user_settings_path(), '{"soundfont": "  /sf/b.sf2 ", "temperature": 1}')
    settings, notice = load_settings(path)
    assert notice is None
    assert settings.soundfont == "/sf/b.sf2" and settings.temperature == 1


def test_failed_save_keeps_the_old_file():
    path = user_settings_path()
    save_settings(Settings(steps=50), path)
    before = path.read_bytes()
    # A real "file too large" from the kernel: writes beyond 16 bytes fail (EFBIG), as a full disk would.
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16, limits[1]))
    try:
        with pytest.raises(CantorError, match=r"^cannot write settings .*settings\.json: "):
            save_settings(Settings(steps=60), path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]


def test_save_where_the_folder_is_a_file():
    path = user_settings_path()
    write(path.parent.parent / "cantor", "not a folder")
    with pytest.raises(CantorError, match="cannot make folder"):
        save_settings(Settings(), path)


def test_update_announces_only_an_applied_form():
    applied = []
    settings = Settings(on_applied=applied.append)
    assert settings.update({"steps": "0"}) and applied == []
    assert settings.update({"steps": "12", "soundfont": " a.sf2 "}) == []
    assert applied == [settings] and settings.steps == 12 and settings.soundfont == "a.sf2"


def test_a_harmonic_rhythm_cantor_does_not_know_is_ignored_with_a_word():
    path = write(user_settings_path(), json.dumps({"chords": "often", "seed": 3}))
    settings, notice = load_settings(path)
    assert settings == Settings(seed=3) and "chords must be free, melody, beat" in notice
    path = write(user_settings_path(), json.dumps({"chords": " Beat "}))
    assert load_settings(path)[0].chords == "beat"


def test_a_model_cantor_does_not_ship_is_ignored_with_a_word():
    path = write(user_settings_path(), json.dumps({"model": "huge", "seed": 3}))
    settings, notice = load_settings(path)
    assert settings == Settings(seed=3) and settings.model == "standard"
    assert "model must be one of standard, fast; got 'huge'" in notice
    path = write(user_settings_path(), json.dumps({"model": " Fast "}))
    assert load_settings(path) == (Settings(model="fast"), None)
    settings = Settings()
    assert settings.update({"model": "tiny"}) == ["model must be one of standard, fast; got 'tiny'"]
    assert settings.model == "standard"
    assert settings.update({"model": "FAST"}) == [] and settings.model == "fast"
