"""The settings file: $XDG_CONFIG_HOME/cantor/settings.json, read at start, written on apply."""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine.coconet.defaults import DEFAULT_MODEL
from engine.errors import CantorError
from engine.fileio import atomic_output, os_reason
from tui.settings import (
    LIMITS,
    SAVED,
    TEXT,
    Settings,
    chords_problem,
    model_problem,
    range_problem,
)


def user_settings_path() -> Path:
    """$XDG_CONFIG_HOME/cantor/settings.json, or ~/.config/cantor/settings.json."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative value is invalid and ignored
        base = os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "cantor" / "settings.json"


def load_settings(path: str | os.PathLike) -> tuple[Settings, str | None]:
    """The settings saved in `path` and a one-line notice of what was ignored (None: nothing).

    A missing file gives the defaults silently; anything unreadable, unknown or out of range is
    left at its default and named in the notice. The file itself is never changed here.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings(), None
    except OSError as exc:
        return Settings(), f"{path}: cannot read it ({os_reason(exc)}); default settings used"
    except UnicodeDecodeError:
        return Settings(), f"{path}: not UTF-8 text; default settings used"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return Settings(), f"{path}: not valid JSON ({where}); default settings used"
    except (ValueError, RecursionError):  # a number too long to convert, nesting too deep
        return Settings(), f"{path}: not valid settings JSON; default settings used"
    if not isinstance(data, dict):
        return Settings(), f"{path}: not a JSON object of settings; default settings used"
    values, problems = checked_values(data)
    settings = Settings(**values)
    if not problems:
        return settings, None
    return settings, f"{path}: ignored {'; '.join(problems)} (defaults used)"


def checked_values(data: dict) -> tuple[dict, list[str]]:
    """The usable settings in a decoded file, and a short phrase for each one left out."""
    values: dict = {}
    problems: list[str] = []
    for name, value in data.items():
        if name not in SAVED:
            problems.append(f"unknown setting {shown(name)}")
            continue
        problem = type_problem(name, value)
        if problem is None and name in LIMITS:
            problem = range_problem(name, value)
        if problem is None and name == "chords":
            value = value.strip().lower() or "free"
            problem = chords_problem(value)
        if problem is None and name == "model":
            value = value.strip().lower() or DEFAULT_MODEL
            problem = model_problem(value)
        if problem is None:
            values[name] = value.strip() if isinstance(value, str) else value
        else:
            problems.append(problem)
    return values, problems


def type_problem(name: str, value) -> str | None:
    """The message for a JSON value of the wrong type for `name`, or None when the type fits."""
    if name in TEXT:
        return None if isinstance(value, str) else f"{name} must be text; got {shown(value)}"
    kind = LIMITS[name][0]
    allowed = (int, float) if kind is float else (int,)
    if isinstance(value, allowed) and not isinstance(value, bool):
        return None
    noun = "a number" if kind is float else "a whole number"
    return f"{name} must be {noun}; got {shown(value)}"


def shown(value, width: int = 30) -> str:
    """`value` as JSON, cut short so a notice stays one line."""
    text = json.dumps(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def save_settings(settings: Settings, path: str | os.PathLike) -> None:
    """Write the saved settings to `path` atomically; raises CantorError (the old file stays)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = f"cannot make folder {path.parent} ({os_reason(exc)})"
        raise CantorError(f"cannot write settings {path}: {reason}") from None
    text = json.dumps(settings.saved_values(), indent=2) + "\n"
    # Only what= is passed: atomic_output's other parameters may change.
    with atomic_output(path, what="settings") as tmp:
        tmp.write_text(text, encoding="utf-8")
