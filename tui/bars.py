"""Score set-up on the Document: title, meter, pickup and length; inserting and deleting bars.

Each change is one undo step. A new meter or pickup re-bars the same music (no note moves, the bar
lines do); a shorter length cuts the end (undo brings it back), a longer one adds silent bars.
Inserting a bar puts an empty bar before the cursor's bar (after the pickup when the cursor is in
it); a note held across the new bar's place is struck again after it. Deleting removes the
cursor's bar (the pickup, when the cursor is in it); the only bar cannot be deleted. Erased cells
and fermatas move with the music.
"""

from __future__ import annotations

import numpy as np

from engine.errors import ScoreError
from engine.music.score import Score

MAX_SETUP_BARS = 1000


def parse_meter(text: str) -> tuple[int, int]:
    """ "3/4" -> (3, 4); ScoreError with a plain message otherwise (Score checks the values)."""
    parts = text.replace(" ", "").split("/")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ScoreError(f"meter must be written N/D, e.g. 3/4 or 6/8; got {text.strip()!r}")
    return int(parts[0]), int(parts[1])


def _splice(score: Score, erased: np.ndarray, start: int, end: int, insert: int):
    """Steps [start, end) replaced by `insert` silent steps: (score, erased) with meta kept."""
    head, tail = score.slice(0, start), score.slice(end, score.num_steps)
    middle = Score.empty(insert, **score.meta())
    if score.fermatas is not None:
        middle = middle.replace(fermatas=np.zeros(insert, dtype=bool))
    joined = head.concat(middle).concat(tail)
    kept = np.concatenate(
        [erased[:, :start], np.zeros((erased.shape[0], insert), dtype=bool), erased[:, end:]], axis=1)
    return joined, kept


class BarEdits:
    """Mixed into Document: score-level set-up and bar insertion/deletion."""

    def cursor_bar(self) -> int:
        return self.score.location(self.step)[0] if self.score.num_steps else 1

    def insert_bar(self) -> int:
        """An empty bar before the cursor's bar; returns its number."""
        score = self.score
        bar = max(1, self.cursor_bar())
        at = min(score.bar_start(bar), score.num_steps)
        joined, erased = _splice(score, self.erased, at, at, score.steps_per_bar)
        self.commit(joined.replace(pickup=score.pickup), erased, "insert bar")
        self.goto(at)
        return bar

    def delete_bar(self) -> int:
        """Remove the cursor's bar (the pickup when the cursor is in it); returns its number."""
        score = self.score
        bar = self.cursor_bar()
        start = score.bar_start(bar)
        end = min(score.num_steps, score.bar_start(bar + 1) if bar else score.pickup)
        if end - start >= score.num_steps:
            raise ScoreError("the score's only bar cannot be deleted")
        joined, erased = _splice(score, self.erased, start, end, 0)
        self.commit(joined.replace(pickup=0 if bar == 0 else score.pickup), erased, "delete bar")
        self.goto(start)
        return bar

    def set_up(self, *, title: str, meter: tuple[int, int], pickup: int, bars: int | None) -> None:
        """Title, meter, pickup (steps) and length (full bars after the pickup; None: the length
        as it is) as one undo step."""
        if bars is None:
            score = self.score.replace(title=title.strip())
            if score != self.score:
                self.commit(score, self.erased, "score set-up")
            return
        if not 1 <= int(bars) <= MAX_SETUP_BARS:
            raise ScoreError(f"bars must be in range 1..{MAX_SETUP_BARS}; got {bars}")
        score = self.score.replace(title=title.strip(), time_signature=meter, pickup=int(pickup))
        steps = score.pickup + int(bars) * score.steps_per_bar
        erased = self.erased
        if steps < score.num_steps:
            score, erased = _splice(score, erased, steps, score.num_steps, 0)
        elif steps > score.num_steps:
            score, erased = _splice(score, erased, score.num_steps, score.num_steps,
                                    steps - score.num_steps)
        score = score.replace(pickup=int(pickup))
        if score == self.score:
            return
        self.commit(score, erased, "score set-up")
