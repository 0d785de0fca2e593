"""The pianoroll's header row: bar numbers, beat marks and fermatas (phrase ends).

A fermata is drawn over the first step of each marked span, or the next column of the span that
no bar number uses; fermatas the user set are drawn in the header style, guessed ones dimmed.
"""

from __future__ import annotations

import numpy as np
from rich.style import Style

FERMATA = "◠"
FERMATA_ASCII = "^"


def header_row(score, w0: int, w1: int, zoom: int, beat_glyph: str, grid_char,
               style: Style) -> tuple[list[str], list[Style], set[int]]:
    """Characters and styles over steps [w0, w1), and the columns holding bar-number digits."""
    width = (w1 - w0) * zoom
    chars = [" "] * width
    for s in range(w0, w1):
        if grid_char(s, score) == beat_glyph:
            chars[(s - w0) * zoom] = "'"
    digits: set[int] = set()
    for bar in range(score.location(w0)[0], score.location(max(w0, w1 - 1))[0] + 1):
        start = (score.bar_start(bar) - w0) * zoom
        for i, c in enumerate(str(bar)):
            if 0 <= start + i < width:
                chars[start + i] = c
                digits.add(start + i)
    return chars, [style] * width, digits


def draw_fermatas(chars: list[str], styles: list[Style], digits: set[int], marks: np.ndarray,
                  w0: int, w1: int, zoom: int, glyph: str, style: Style) -> None:
    """Put `glyph` over each span of `marks` that starts in [w0, w1), beside any bar number."""
    if marks is None or not marks[w0:w1].any():
        return
    padded = np.concatenate([[False], marks.astype(bool), [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    for start, end in zip(edges[::2].tolist(), edges[1::2].tolist()):
        if not w0 <= start < w1:
            continue
        first, last = (start - w0) * zoom, min((end - w0) * zoom, len(chars))
        col = next((c for c in range(first, last) if c not in digits), first)
        chars[col] = glyph
        styles[col] = style
