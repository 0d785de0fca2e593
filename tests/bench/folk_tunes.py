"""Folk melodies Bach never harmonized, from music21's corpus, as soprano-only `Score`s.

`folk_tunes.txt` (beside this file) lists the tunes, one "corpus path  number" per line; it was
made once by `choose` (rule in CHOICE_RULE) and is committed, so the set never drifts.
A tune is usable when it has one time signature, sits on the 16th grid (grace notes dropped),
holds single notes (an accidental lasts to the bar line, as ABC says), spans 4..32 bars and fits the soprano range C4-G5 when shifted by octaves.
Its key: the tonic is the last note when the signature names it (Essen's `K:` names the tonic as a
major key whatever the mode) or it is the signature's major or relative minor; the mode is the
third above that tonic the melody sings longer. music21's key analysis of the melody decides what
this leaves open.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.music.score import Score

LIST = Path(__file__).with_name("folk_tunes.txt")
SOPRANO = (60, 79)
BARS = (4, 32)
# Essen folksong files in name order; the test files, variants and Haydn's set are left out.
ESSEN_FILES = (
    "altdeu10", "altdeu20", "ballad10", "ballad20", "ballad30", "ballad40", "ballad50", "ballad60",
    "ballad70", "ballad80", "boehme10", "boehme20", "dva0", "erk10", "erk20", "erk30", "erk5",
    "fink0", "han1", "han2", "irl", "kinder0", "lot", "lux", "zuccal0",
)
PER_FILE = 2
CHOICE_RULE = (
    f"the first {PER_FILE} usable tunes (in tune-number order) of each of these Essen folksong files,"
    " skipping any tune whose first 8 melodic intervals open a JSB-16th soprano (a chorale tune)"
)


class Unusable(Exception):
    """A tune that cannot be a soprano on cantor's grid (the message says why)."""


def melody_score(tune) -> tuple[Score, tuple[int, bool]]:
    """A music21 score of one tune -> (soprano-only Score, (tonic pitch class, minor))."""
    from music21 import key as m21key
    from music21 import meter

    signatures = {ts.ratioString for ts in tune.recurse().getElementsByClass(meter.TimeSignature)}
    if len(signatures) != 1:
        raise Unusable("no single time signature")
    ts = tune.recurse().getElementsByClass(meter.TimeSignature).first()
    num, den = ts.numerator, ts.denominator
    _carry_accidentals(tune)
    notes = [n for n in tune.flatten().notes if float(n.quarterLength) > 0]
    if any(n.isChord for n in notes):
        raise Unusable("chords")
    steps = float(tune.highestTime) * 4
    times = [float(n.offset) * 4 for n in notes] + [float(n.offset + n.quarterLength) * 4 for n in notes]
    if not notes or any(abs(x - round(x)) > 1e-6 for x in [*times, steps]):
        raise Unusable("off the 16th grid")
    row = np.full(round(steps), -1, dtype=np.int16)
    onsets = np.zeros(round(steps), dtype=bool)
    for n in notes:
        start, end = round(float(n.offset) * 4), round(float(n.offset + n.quarterLength) * 4)
        row[start:end] = n.pitch.midi
        onsets[start] = n.tie is None or n.tie.type == "start"  # a tied continuation is held
    bar = num * 16 // den
    measures = list(tune.parts[0].getElementsByClass("Measure")) if tune.parts else []
    first = round(float(measures[0].duration.quarterLength) * 4) if measures else bar
    pickup = first % bar
    bars = -(-(len(row) - pickup) // bar)
    if not BARS[0] <= bars <= BARS[1]:
        raise Unusable(f"{bars} bars")
    low, high = int(row[row >= 0].min()), int(row.max())
    shifts = [k for k in range(-48, 49, 12) if low + k >= SOPRANO[0] and high + k <= SOPRANO[1]]
    if not shifts:
        raise Unusable("wider than the soprano range")
    shift = min(shifts, key=abs)
    pitches = np.full((4, len(row)), -1, dtype=np.int16)
    pitches[0] = np.where(row >= 0, row + shift, -1)
    on = np.zeros((4, len(row)), dtype=bool)
    on[0] = onsets
    key = _tune_key(tune, row, m21key)
    title = str(tune.metadata.title or "") if tune.metadata else ""
    return Score(pitches, on, time_signature=(num, den), pickup=pickup, title=title), key


def _carry_accidentals(tune) -> None:
    """An accidental written in ABC holds to the end of its bar; music21's ABC reader forgets it."""
    import copy

    for bar in tune.recurse().getElementsByClass("Measure"):
        written = {}
        for n in bar.notes:
            if n.isChord:
                continue
            place = (n.pitch.step, n.pitch.octave)
            accidental = n.pitch.accidental
            if accidental is not None and accidental.displayStatus:
                written[place] = accidental
            elif place in written:
                n.pitch.accidental = copy.deepcopy(written[place])


def _tune_key(tune, row: np.ndarray, m21key) -> tuple[int, bool]:
    """The tune's (tonic, minor). The Essen files name the tonic in `K:` as a major key ("K: A")
    whatever the mode and write the mode's accidentals out, so the signature gives the tonic only:
    the mode is the third above the tonic that the melody sings longer (music21's analysis when it
    sings neither)."""
    final = int(row[row >= 0][-1]) % 12
    signature = tune.recurse().getElementsByClass(m21key.KeySignature).first()
    tonic = None
    if signature is not None:
        named = signature.tonic.pitchClass if isinstance(signature, m21key.Key) else None
        major = signature.asKey("major").tonic.pitchClass
        if final in (named, major, (major + 9) % 12):
            tonic = final
    found = tune.analyze("key")
    if tonic is None:
        return found.tonic.pitchClass, found.mode == "minor"
    sung = np.bincount(row[row >= 0].astype(np.int64) % 12, minlength=12)
    major_third, minor_third = sung[(tonic + 4) % 12], sung[(tonic + 3) % 12]
    if major_third != minor_third:
        return tonic, bool(minor_third > major_third)
    return tonic, found.tonic.pitchClass == tonic and found.mode == "minor"


def read_list(path: Path = LIST) -> list[tuple[str, int]]:
    """(corpus path, tune number) of every line of the list; '#' starts a comment."""
    entries = []
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].split()
        if text:
            entries.append((text[0], int(text[1])))
    return entries


def load(entry: tuple[str, int]) -> tuple[Score, tuple[int, bool]]:
    from music21 import corpus

    return melody_score(corpus.parse(entry[0], number=entry[1]))


def _opening(pitches: np.ndarray, count: int = 8) -> tuple:
    notes = pitches[pitches >= 0].astype(int)
    notes = notes[np.concatenate([[True], notes[1:] != notes[:-1]])] if notes.size else notes
    return tuple(np.diff(notes[: count + 1]))


def choose(chorale_sopranos: list[np.ndarray]) -> list[tuple[str, int, str]]:
    """Apply CHOICE_RULE: (corpus path, number, title) of the chosen tunes (minutes: parses the files)."""
    from music21 import corpus

    openings = {_opening(s) for s in chorale_sopranos}
    chosen = []
    for name in ESSEN_FILES:
        path = f"essenFolksong/{name}"
        found = 0
        for tune in corpus.parse(path).scores:
            try:
                score, _ = melody_score(tune)
            except Unusable:
                continue
            if _opening(score.pitches[0]) in openings:
                continue
            chosen.append((path, int(tune.metadata.number), score.title))
            found += 1
            if found == PER_FILE:
                break
    return chosen


def write_list(chosen: list[tuple[str, int, str]], path: Path = LIST) -> None:
    lines = ["# Folk melodies for tests/bench/musicality.py: corpus path, tune number, title.",
             f"# Chosen once by tests/bench/folk_tunes.py: {CHOICE_RULE}."]
    lines += [f"{p} {n}  # {t}" for p, n, t in chosen]
    path.write_text("\n".join(lines) + "\n")
