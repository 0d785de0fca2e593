"""Which SoundFont to play with: an explicit file, $CANTOR_SOUNDFONT, soundfonts/, the system, ours."""

from __future__ import annotations

import os
from pathlib import Path

from engine.audio.tiny_soundfont import TINY_SOUNDFONT
from engine.errors import AudioUnavailable

PROJECT_SOUNDFONTS = TINY_SOUNDFONT.parent
ENV_VAR = "CANTOR_SOUNDFONT"
# Debian/Ubuntu locations; default-GM.* are alternatives links to the preferred General MIDI font.
SYSTEM_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/sounds/sf3/default-GM.sf3"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
)
SUFFIXES = (".sf2", ".sf3")


class SoundFontError(AudioUnavailable):
    """A SoundFont that was asked for is missing, unreadable, or not a SoundFont."""


def soundfont_problem(path: Path) -> str | None:
    """Why `path` cannot be used as a SoundFont, or None when it looks like one."""
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    # SF2 and SF3 files are RIFF containers of form type "sfbk".
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        return "is not a SoundFont (expected an .sf2 or .sf3 file)"
    return None


def _checked(path: Path, origin: str) -> Path:
    problem = soundfont_problem(path)
    if problem:
        raise SoundFontError(f"SoundFont {path} {problem} ({origin})")
    return path


def _project_soundfonts() -> list[Path]:
    """Usable SoundFonts a user put into soundfonts/, by name; the tiny fallback is not one."""
    if not PROJECT_SOUNDFONTS.is_dir():
        return []
    found = sorted(
        p
        for p in PROJECT_SOUNDFONTS.iterdir()
        if p.suffix.lower() in SUFFIXES and p.resolve() != TINY_SOUNDFONT
    )
    return [p for p in found if soundfont_problem(p) is None]


def candidate_soundfonts() -> list[Path]:
    """Every SoundFont the automatic search would consider, best first (explicit choices aside)."""
    system = [p for p in SYSTEM_SOUNDFONTS if soundfont_problem(p) is None]
    return [*_project_soundfonts(), *system, TINY_SOUNDFONT]


def find_soundfont(explicit: str | os.PathLike | None = None) -> Path:
    """The SoundFont to use: explicit, $CANTOR_SOUNDFONT, soundfonts/, system default, then ours."""
    if explicit is not None and str(explicit) != "":
        return _checked(Path(explicit).expanduser(), "given with --soundfont or in the settings")
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return _checked(Path(from_env).expanduser(), f"set in ${ENV_VAR}")
    for path in candidate_soundfonts():
        if soundfont_problem(path) is None:
            return path
    return _rebuilt_tiny_soundfont()


def _rebuilt_tiny_soundfont() -> Path:
    """The tiny SoundFont rebuilt into the user's cache (an install without soundfonts/)."""
    from engine.audio.tiny_soundfont import write_tiny_soundfont

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cantor"
    target = cache / TINY_SOUNDFONT.name
    if soundfont_problem(target) is None:
        return target
    try:
        return write_tiny_soundfont(target)
    except OSError as exc:
        raise AudioUnavailable(
            f"no SoundFont found, and the built-in one cannot be written to {target}"
            f" ({exc.strerror or exc}): give one with --soundfont or $CANTOR_SOUNDFONT"
        ) from None
