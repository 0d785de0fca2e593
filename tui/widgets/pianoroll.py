"""The pianoroll grid: a Line API `ScrollView` drawing four voices over pitch x 16th-note steps.

Layout (top to bottom): a header row with bar numbers, beat marks and fermatas (phrase ends:
the document's own, or its guess drawn dim), one lane per voice that
spells its notes (readable even in plain ASCII), then one row per pitch from the model's top
pitch down. The left gutter names lanes and pitches. Rows are cached per document version and
only the overlays (cursor, selection, playhead) are applied per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.music.spelling import signature_text, spell
from tui.widgets.header import FERMATA, FERMATA_ASCII, draw_fermatas, header_row

LOW, HIGH = 36, 81  # the model's pitch range (engine.music.pianoroll); the widget stays engine-free
FIXED_ROWS = 5  # header + four voice lanes
GUTTER = 5
CHUNK = 64  # rows are built for whole chunks of steps around the view, so length costs nothing
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
LETTERS = "SATB"
COLOURS = ("#ff6b6b", "#ffd166", "#4cc9f0", "#b388ff")


def pitch_name(pitch: int) -> str:
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


@dataclass(frozen=True)
class Glyphs:
    """Characters of the grid; one set for UTF-8 terminals, one for plain ASCII."""

    held: tuple[str, str, str, str]
    bar: str
    beat: str
    erased: str
    gutter: str
    cursor_mark: str
    playhead_mark: str
    fermata: str


UNICODE = Glyphs(("━", "═", "─", "┅"), "│", "·", "░", "│", "▼", "▶", FERMATA)
ASCII = Glyphs(("=", "~", "-", "_"), "|", ".", ":", "|", "v", ">", FERMATA_ASCII)


class Palette:
    """Styles of the grid, in colour or monochrome (NO_COLOR: only bold/reverse/underline)."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour
        if colour:
            self.empty = Style(color="#5c6370", bgcolor="#1e2127")
            self.c_row = Style(color="#5c6370", bgcolor="#262a31")
            self.erased = Style(color="#e06c75", bgcolor="#3a2328")
            self.gutter = Style(color="#abb2bf", bgcolor="#161719")
            self.header = Style(color="#e5c07b", bgcolor="#161719", bold=True)
            self.fermata = Style(color="#ffffff", bgcolor="#161719", bold=True)
            self.fermata_guess = Style(color="#6b7280", bgcolor="#161719")
            self.onset = tuple(Style(color="#101010", bgcolor=c, bold=True) for c in COLOURS)
            self.held = tuple(Style(color=c, bgcolor="#1e2127", bold=True) for c in COLOURS)
            self.muted = Style(color="#5c6370", bgcolor="#1e2127")
            self.cursor = Style(reverse=True, bold=True, blink=False)
            self.selection = Style(bgcolor="#3e4f6b")
            self.playhead = Style(bgcolor="#2f6f4f")
            self.changed = Style(color="#000000", bgcolor="#ffffff", bold=True)
            self.finding = Style(color="#ffffff", bgcolor="#c0392b", bold=True)
        else:
            plain = Style()
            self.empty = self.c_row = self.muted = plain
            self.erased = Style(bold=True)
            self.gutter = plain
            self.header = Style(bold=True)
            self.fermata = Style(bold=True)
            self.fermata_guess = Style(dim=True)
            self.onset = tuple(Style(bold=True) for _ in COLOURS)
            self.held = tuple(plain for _ in COLOURS)
            self.cursor = Style(reverse=True)
            self.selection = Style(underline=True)
            self.playhead = Style(reverse=True)
            self.changed = Style(bold=True, underline=True)
            self.finding = Style(bold=True, underline=True)
        self._heat = {}

    def heat(self, level: int) -> Style:
        """Confidence shading 0..9 (red = unsure, green = sure)."""
        if level not in self._heat:
            if self.colour:
                t = level / 9
                r, g = int(220 * (1 - t) + 30 * t), int(60 * (1 - t) + 190 * t)
                self._heat[level] = Style(color="#000000", bgcolor=f"#{r:02x}{g:02x}40", bold=True)
            else:
                self._heat[level] = Style(bold=level >= 5)
        return self._heat[level]


class PianoRoll(ScrollView, can_focus=True, inherit_bindings=False):
    """Draws a document; keys are handled by the screen, clicks are posted as messages."""

    DEFAULT_CSS = """
    PianoRoll { scrollbar-size: 0 0; height: 1fr; }
    """

    class Clicked(Message):
        """A cell was clicked: move the cursor there (voice is set when a lane was clicked)."""

        def __init__(self, step: int, pitch: int | None, voice: int | None) -> None:
            super().__init__()
            self.step, self.pitch, self.voice = step, pitch, voice

    def __init__(self, document, *, ascii_only: bool = False, colour: bool = True, **kw) -> None:
        super().__init__(**kw)
        self.document = document
        self.glyphs = ASCII if ascii_only else UNICODE
        self.palette = Palette(colour)
        self.zoom = 1
        self.preview: tuple[np.ndarray, np.ndarray] | None = None  # (pitches, onsets) shown instead
        self.changed: np.ndarray | None = None
        self.confidence: np.ndarray | None = None
        self.findings: np.ndarray | None = None
        self.playhead: int | None = None
        self.muted: set[int] = set()
        self._cache: dict = {}
        self._cache_key = None

    # --- state changes from the screen -------------------------------------------------------

    def invalidate(self) -> None:
        """Content changed (edit, preview, heatmap...): drop cached rows and redraw."""
        self._cache.clear()
        self._cache_key = None
        self._update_virtual_size()
        self.refresh()

    def cursor_changed(self) -> None:
        self.scroll_to_cursor()
        self.refresh()

    def set_zoom(self, zoom: int) -> None:
        self.zoom = zoom
        self.invalidate()
        self.scroll_to_cursor()

    def _update_virtual_size(self) -> None:
        steps = self._pitches().shape[1]
        self.virtual_size = Size(GUTTER + steps * self.zoom + 1, FIXED_ROWS + HIGH - LOW + 1)

    def on_mount(self) -> None:
        self._update_virtual_size()
        self.call_after_refresh(self.scroll_to_cursor)

    def on_resize(self) -> None:
        self.scroll_to_cursor()

    def scroll_to_cursor(self) -> None:
        doc = self.document
        width = max(1, self.size.width - GUTTER)
        rows = max(1, self.size.height - FIXED_ROWS)
        x, y = self.scroll_offset
        col = doc.step * self.zoom
        margin = min(8 * self.zoom, width // 4)
        if col < x + margin:
            x = max(0, col - margin)
        elif col + self.zoom > x + width - margin:
            x = col + self.zoom - width + margin
        row = HIGH - doc.pitch
        if row < y + 1:
            y = max(0, row - 1)
        elif row >= y + rows - 1:
            y = row - rows + 2
        self.scroll_to(x, y, animate=False, force=True, immediate=True)

    # --- data ---------------------------------------------------------------------------------

    def _pitches(self) -> np.ndarray:
        return self.preview[0] if self.preview is not None else self.document.score.pitches

    def _onsets(self) -> np.ndarray:
        return self.preview[1] if self.preview is not None else self.document.score.onsets

    def _check_cache(self) -> None:
        key = (
            self.document.version,
            self.zoom,
            id(self.preview),
            id(self.changed),
            id(self.confidence),
            id(self.findings),
            tuple(sorted(self.muted)),
        )
        if key != self._cache_key:
            self._cache.clear()
            self._cache_key = key

    # --- rendering ----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        self._check_cache()
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            key = -1
        elif y < FIXED_ROWS:
            key = -1 - y  # lanes -2..-5
        else:
            key = y - FIXED_ROWS + scroll_y  # pitch row index from the top
            if key > HIGH - LOW:
                return Strip.blank(width, self.palette.empty)
        view = max(0, width - GUTTER)
        w0, w1 = self._window(scroll_x, view)
        row = self._cache.get((key, w0, w1))
        if row is None:
            row = self._cache[(key, w0, w1)] = self._build_row(key, w0, w1)
        chars, styles = row
        left = scroll_x - w0 * self.zoom
        chars, styles = chars[left : left + view], styles[left : left + view]
        if len(chars) < view:
            pad = view - len(chars)
            chars = chars + [" "] * pad
            fill = self.palette.header if key == -1 else self.palette.empty
            styles = styles + [fill] * pad
        else:
            styles = list(styles)
        self._overlay(key, styles, scroll_x)
        return Strip(self._gutter(key) + _segments(chars, styles), width)

    def _gutter(self, key: int) -> list[Segment]:
        g, doc = self.glyphs, self.document
        if key == -1:
            # The key signature, as at the start of a staff (dimmed when estimated), then a gap:
            # a label as wide as the gutter ran into the first bar number ("bar*21").
            name, estimated = doc.key_info()
            text = signature_text(name, ascii_only=self.glyphs is ASCII) if name else ""
            style = self.palette.fermata_guess if estimated else self.palette.header
            return [Segment(f"{text:<{GUTTER - 1}}", style), Segment(" ", self.palette.header)]
        if key < -1:
            voice = -2 - key
            mark = ">" if voice == doc.voice else " "
            mute = "m" if voice in self.muted else " "
            style = self.palette.onset[voice] if voice == doc.voice else self.palette.gutter
            return [
                Segment(f"{mark}{LETTERS[voice]}{mute} ", style),
                Segment(g.gutter, self.palette.gutter),
            ]
        pitch = HIGH - key
        return [
            Segment(f"{spell(pitch, self.document.key_info()[0]):<4}", self.palette.gutter),
            Segment(g.gutter, self.palette.gutter),
        ]

    def _grid_char(self, step: int, score) -> str:
        """Background of an empty cell: bar line, beat mark or blank."""
        offset = step - score.pickup
        if offset % score.steps_per_bar == 0:
            return self.glyphs.bar
        if offset % score.steps_per_beat == 0:
            return self.glyphs.beat
        return " "

    def _window(self, scroll_x: int, view: int) -> tuple[int, int]:
        """Steps [w0, w1) to build rows for: the visible ones, widened to whole chunks."""
        steps, z = self._pitches().shape[1], self.zoom
        first = scroll_x // z
        last = (scroll_x + view) // z + 1
        w0 = first // CHUNK * CHUNK
        return w0, max(w0, min(steps, (last // CHUNK + 1) * CHUNK))

    def _build_row(self, key: int, w0: int, w1: int) -> tuple[list[str], list[Style]]:
        """Characters and styles of one row over steps [w0, w1) (column 0 = step w0)."""
        score = self.document.score
        pitches, onsets = self._pitches(), self._onsets()
        steps, z, pal, g = pitches.shape[1], self.zoom, self.palette, self.glyphs
        width = (w1 - w0) * z
        chars: list[str] = []
        styles: list[Style] = []
        if key == -1:  # header: bar numbers, beat marks, fermatas
            chars, styles, digits = header_row(
                score, w0, w1, z, g.beat, self._grid_char, pal.header
            )
            marks, guessed = self.document.phrase_marks()
            if marks.shape[0] == steps:  # not while a preview of another length shows
                style = pal.fermata_guess if guessed else pal.fermata
                draw_fermatas(chars, styles, digits, marks, w0, w1, z, g.fermata, style)
            return chars, styles
        known = self.document.erased.shape[1] == steps
        if key < -1:  # a voice lane, spelling its notes for the score's key (given or estimated)
            voice = -2 - key
            key_name = self.document.key_info()[0]
            row, on = pitches[voice].tolist(), onsets[voice].tolist()
            erased = self.document.erased[voice].tolist() if known else [False] * steps
            muted = voice in self.muted
            held_style = pal.muted if muted else pal.held[voice]
            onset_style = pal.muted if muted else pal.onset[voice]
            for s in range(w0, w1):
                if row[s] < 0:
                    c = g.erased if erased[s] else self._grid_char(s, score)
                    chars.extend(c for _ in range(z))
                    styles.extend((pal.erased if erased[s] else pal.empty) for _ in range(z))
                elif on[s] or s == 0 or row[s - 1] != row[s]:
                    name = spell(row[s], key_name) if not muted else LETTERS[voice].lower()
                    length = 1
                    while s + length < w1 and row[s + length] == row[s] and not on[s + length]:
                        length += 1
                    cells = length * z
                    if len(name) >= cells:  # no gap after it: the pitch class alone ("C#B=A=")
                        name = name.rstrip("-0123456789")
                    text = name[: max(1, cells)]
                    chars.extend(text)
                    styles.append(onset_style)
                    styles.extend(held_style for _ in text[1:])
                    fill = z - len(text)
                    if fill > 0:
                        chars.extend(g.held[voice] for _ in range(fill))
                        styles.extend(held_style for _ in range(fill))
                else:
                    covered = len(chars) - (s - w0) * z  # cells already taken by the note name
                    for _ in range(max(0, z - covered)):
                        chars.append(g.held[voice])
                        styles.append(held_style)
            del chars[width:], styles[width:]
            return chars, styles
        pitch = HIGH - key
        erased_cols = self.document.erased.any(axis=0) if known else np.zeros(steps, bool)
        template_chars, template_empty, template_c = self._template(w0, w1, erased_cols)
        chars = template_chars.copy()
        styles = (template_c if pitch % 12 == 0 else template_empty).copy()
        match = pitches[:, w0:w1] == pitch
        notes = np.flatnonzero(match.any(axis=0))
        if not notes.size:
            return chars, styles
        first = np.argmax(match[:, notes], axis=0)
        onset_here = onsets[first, notes + w0]
        conf, changed, findings = self.confidence, self.changed, self.findings
        for local, v, onset in zip(notes.tolist(), first.tolist(), onset_here.tolist()):
            s = local + w0
            if v in self.muted:
                style = pal.muted
            elif onset:
                style = pal.onset[v]
            else:
                style = pal.held[v]
            c = LETTERS[v] if onset else g.held[v]
            if conf is not None:  # onsets keep the voice's letter; held cells show the digit
                level = min(9, int(conf[v, s] * 10))
                style = pal.heat(level)
                if not onset:
                    c = str(level)
            if changed is not None and changed[v, s]:
                style = pal.changed
            if findings is not None and findings[v, s]:
                style = pal.finding
                c = c if onset else "!"
            col = local * z
            chars[col] = c
            styles[col] = style
            for i in range(1, z):
                chars[col + i] = g.held[v]
                styles[col + i] = style
        return chars, styles

    def _template(self, w0: int, w1: int, erased_cols: np.ndarray):
        """An empty pitch row (bar lines, beat marks, erased columns), built once per window."""
        cached = self._cache.get(("template", w0, w1))
        if cached is not None:
            return cached
        score, z, pal, g = self.document.score, self.zoom, self.palette, self.glyphs
        bar, beat = score.steps_per_bar, score.steps_per_beat
        chars: list[str] = []
        empty: list = []
        c_row: list = []
        for s in range(w0, w1):
            if erased_cols[s]:
                chars.extend(g.erased for _ in range(z))
                empty.extend(pal.erased for _ in range(z))
                c_row.extend(pal.erased for _ in range(z))
                continue
            offset = s - score.pickup
            chars.append(g.bar if offset % bar == 0 else g.beat if offset % beat == 0 else " ")
            chars.extend(" " for _ in range(z - 1))
            empty.extend(pal.empty for _ in range(z))
            c_row.extend(pal.c_row for _ in range(z))
        self._cache[("template", w0, w1)] = (chars, empty, c_row)
        return chars, empty, c_row

    def _overlay(self, key: int, styles: list[Style], scroll_x: int) -> None:
        """Selection, playhead and cursor on the visible part of a row."""
        doc, z, pal = self.document, self.zoom, self.palette
        n = len(styles)

        def span(start: int, end: int, style: Style) -> None:
            a, b = max(0, start * z - scroll_x), min(n, end * z - scroll_x)
            for i in range(a, b):
                styles[i] = styles[i] + style

        sel = doc.selection
        if sel is not None and (key >= -1 or (-2 - key) in sel.voices):
            span(sel.start, sel.end, pal.selection)
        if self.playhead is not None:
            span(self.playhead, self.playhead + 1, pal.playhead)
        cursor_here = (
            key == -1
            or (key < -1 and -2 - key == doc.voice)
            or (key >= 0 and HIGH - key == doc.pitch)
        )
        if cursor_here:
            span(doc.step, doc.step + 1, pal.cursor)

    # --- mouse ----------------------------------------------------------------------------

    def on_click(self, event) -> None:
        x, y = event.x, event.y
        if x < GUTTER:
            return
        scroll_x, scroll_y = self.scroll_offset
        step = (x - GUTTER + scroll_x) // self.zoom
        if y == 0:
            self.post_message(self.Clicked(step, None, None))
        elif y < FIXED_ROWS:
            self.post_message(self.Clicked(step, None, y - 1))
        else:
            pitch = HIGH - (y - FIXED_ROWS + scroll_y)
            if LOW <= pitch <= HIGH:
                self.post_message(self.Clicked(step, pitch, None))


def _segments(chars: list[str], styles: list[Style]) -> list[Segment]:
    """Runs of equally styled characters as segments."""
    out: list[Segment] = []
    if not chars:
        return out
    run_start, current = 0, styles[0]
    for i in range(1, len(chars)):
        style = styles[i]
        if style is not current and style != current:
            out.append(Segment("".join(chars[run_start:i]), current))
            run_start, current = i, style
    out.append(Segment("".join(chars[run_start:]), current))
    return out
