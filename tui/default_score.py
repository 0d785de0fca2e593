"""The score the composer opens with no file: a Bach chorale from the music21 corpus (cached as JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.music.keys import key_name
from engine.music.score import STEPS_PER_QUARTER, Score
from tui.recovery import score_from_dict, score_to_dict

DEFAULT_CHORALE = "bwv66.6"
CACHE = Path(__file__).parent / "data" / "bwv66_6.json"
HINT = (
    "Bach's chorale BWV 66.6. Try: v to select, move to widen, x to erase, i to infill"
    "; ? lists every key."
)


def convert_chorale(name: str = DEFAULT_CHORALE) -> Score:
    """Read a four-part chorale from the music21 corpus onto the 16th-note grid (slow: music21)."""
    import music21

    work = music21.corpus.parse(name)
    parts = list(work.parts)[:4]
    total = round(float(work.highestTime) * STEPS_PER_QUARTER)
    first = parts[0].getElementsByClass("Measure")[0]
    # An anacrusis bar is shorter than the meter: its missing part is the bar's left padding.
    padding = round(float(first.paddingLeft) * STEPS_PER_QUARTER)
    pickup = round(float(first.duration.quarterLength) * STEPS_PER_QUARTER) if padding else 0
    pitches = np.full((4, total), -1, dtype=np.int16)
    onsets = np.zeros((4, total), dtype=bool)
    for v, part in enumerate(parts):
        for note in part.flatten().notes:
            start = round(float(note.getOffsetInHierarchy(part) * STEPS_PER_QUARTER))
            length = round(float(note.quarterLength) * STEPS_PER_QUARTER)
            if note.isChord:
                note = note.notes[-1]
            if note.tie is not None and note.tie.type in ("stop", "continue"):
                pitches[v, start : start + length] = note.pitch.midi
                continue
            pitches[v, start : start + length] = note.pitch.midi
            onsets[v, start] = True
    ts = work.recurse().getElementsByClass("TimeSignature").first()
    mark = work.recurse().getElementsByClass("MetronomeMark").first()
    key = work.analyze("key")
    return Score(
        pitches,
        onsets,
        time_signature=(ts.numerator, ts.denominator) if ts else (4, 4),
        pickup=pickup,
        tempo_bpm=float(mark.getQuarterBPM()) if mark and mark.getQuarterBPM() else 90.0,
        key=key_name(key.tonic.pitchClass, key.mode == "minor"),
        title=f"Chorale {name.upper().replace('BWV', 'BWV ')}",
    )


def write_cache(score: Score, path: Path = CACHE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(score_to_dict(score)), encoding="utf-8")


def default_score() -> Score:
    """The cached chorale; converted through music21 if the cache is missing."""
    try:
        return score_from_dict(json.loads(CACHE.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError):
        return convert_chorale()


if __name__ == "__main__":
    write_cache(convert_chorale())
