"""Note names spelled for a key: B-flat in F major (not A#), B# as C-sharp minor's leading note.

Keys are read as cantor stores them ("F", "Ebm", "C#m") or as music21 names them ("E- minor",
"f# major"). No key: C major. ASCII spelling uses `#` and `b`; Unicode uses the sharp and flat signs.
"""

from __future__ import annotations

from functools import lru_cache

LETTERS = "CDEFGAB"
LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MAJOR = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR = (0, 2, 3, 5, 7, 8, 10)
ASCII_SIGNS = {-2: "bb", -1: "b", 0: "", 1: "#", 2: "x"}
UNICODE_SIGNS = {-2: "\U0001d12b", -1: "\u266d", 0: "", 1: "\u266f", 2: "\U0001d12a"}
# Chromatic notes of C major / A minor as musicians usually write them.
C_CHROMATIC = {1: ("C", 1), 3: ("E", -1), 6: ("F", 1), 8: ("G", 1), 10: ("B", -1)}


def parse_key(key: str | None) -> tuple[str, int, bool]:
    """(tonic letter, its alteration, minor) of a key name; C major when None or unreadable."""
    if not key:
        return "C", 0, False
    text = key.strip()
    lower = text.lower()
    minor = lower.endswith("minor") or (text.endswith("m") and not lower.endswith("major"))
    name = text.split()[0] if " " in text else text.removesuffix("m")
    letter = name[:1].upper()
    if letter not in LETTER_PC:
        return "C", 0, False
    alter = 0
    for sign in name[1:]:
        if sign == "#":
            alter += 1
        elif sign in "b-":
            alter -= 1
        else:
            return "C", 0, False
    return letter, alter, minor


@lru_cache(maxsize=64)
def _scale(key: str | None) -> dict[int, tuple[str, int]]:
    """Pitch class -> (letter, alteration) for every note of the key, minor's raised 6th and 7th
    included, and the remaining chromatic notes in the key's direction (sharps or flats)."""
    letter, alter, minor = parse_key(key)
    tonic_pc = (LETTER_PC[letter] + alter) % 12
    start = LETTERS.index(letter)
    steps = NATURAL_MINOR if minor else MAJOR
    names: dict[int, tuple[str, int]] = {}
    for degree, step in enumerate(steps):
        degree_letter = LETTERS[(start + degree) % 7]
        pc = (tonic_pc + step) % 12
        names[pc] = (degree_letter, _alteration(degree_letter, pc))
    if minor:  # the melodic/harmonic minor's raised sixth and seventh keep their letters
        for degree, step in ((5, 9), (6, 11)):
            degree_letter = LETTERS[(start + degree) % 7]
            pc = (tonic_pc + step) % 12
            names.setdefault(pc, (degree_letter, _alteration(degree_letter, pc)))
    signature = key_signature(key)
    naturals = {pc: name for name, pc in LETTER_PC.items()}
    for pc in range(12):
        if pc in names:
            continue
        if pc in naturals:  # a white key outside the scale: its own letter (B natural in F)
            names[pc] = (naturals[pc], 0)
        elif signature < 0:
            names[pc] = (naturals[(pc + 1) % 12], -1)
        elif signature > 0:
            names[pc] = (naturals[(pc - 1) % 12], 1)
        else:
            names[pc] = C_CHROMATIC[pc]
    return names


def key_signature(key: str | None) -> int:
    """Sharps (> 0) or flats (< 0) of the key's signature: F -> -1, E -> 4, C#m -> 4, None -> 0."""
    letter, alter, minor = parse_key(key)
    tonic_pc = (LETTER_PC[letter] + alter) % 12
    start = LETTERS.index(letter)
    steps = NATURAL_MINOR if minor else MAJOR
    return sum(_alteration(LETTERS[(start + d) % 7], (tonic_pc + st) % 12)
               for d, st in enumerate(steps))


def signature_text(key: str | None, *, ascii_only: bool = True) -> str:
    """The signature in a few characters: "♭" (F), "♯♯" (D), "4♯" (E), "♮" (C); ASCII "b", "##", "4#", "n"."""
    count = key_signature(key)
    if count == 0:
        return "n" if ascii_only else "\u266e"
    sign = (ASCII_SIGNS if ascii_only else UNICODE_SIGNS)[1 if count > 0 else -1]
    return sign * abs(count) if abs(count) <= 3 else f"{abs(count)}{sign}"


def _alteration(letter: str, pc: int) -> int:
    """The accidental that makes `letter` sound as pitch class `pc` (-2..2)."""
    diff = (pc - LETTER_PC[letter]) % 12
    return diff - 12 if diff > 6 else diff


def spell(pitch: int, key: str | None = None, *, ascii_only: bool = True) -> str:
    """MIDI pitch -> its name in `key`, with the octave of its letter: 70 in F -> "Bb4"."""
    letter, alter = _scale(key)[pitch % 12]
    octave = (pitch - alter) // 12 - 1  # Cb4 is MIDI 59, B#3 is MIDI 60
    signs = ASCII_SIGNS if ascii_only else UNICODE_SIGNS
    return f"{letter}{signs[alter]}{octave}"


def spell_class(pitch: int, key: str | None = None, *, ascii_only: bool = True) -> str:
    """Pitch class name in `key`, without the octave: 70 in F -> "Bb"."""
    letter, alter = _scale(key)[pitch % 12]
    return letter + (ASCII_SIGNS if ascii_only else UNICODE_SIGNS)[alter]
