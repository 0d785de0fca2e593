"""Key names as cantor stores them (mido's: "F", "F#m", "Bb") <-> (tonic pitch class, minor)."""

from __future__ import annotations

from engine.music.spelling import LETTER_PC as _LETTERS

MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_NAMES = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")


def key_name(tonic_pc: int, minor: bool) -> str:
    """(tonic pitch class, minor) -> a key name, spelled as key signatures usually are."""
    return (MINOR_NAMES if minor else MAJOR_NAMES)[tonic_pc % 12]


def parse_key(name: str | None) -> tuple[int, bool] | None:
    """A key name ("F", "F#m", "Bb", "Ebm") -> (tonic pitch class, minor); None when not a key."""
    if not name:
        return None
    minor = name.endswith("m")
    base = name[:-1] if minor else name
    if not base or base[0] not in _LETTERS or any(c not in "#b" for c in base[1:]):
        return None
    pc = _LETTERS[base[0]] + sum(1 if c == "#" else -1 for c in base[1:])
    return pc % 12, minor
