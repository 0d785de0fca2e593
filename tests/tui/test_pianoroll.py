"""The pianoroll widget: glyphs per voice, onsets vs held notes, erased cells, cursor, zoom, cache."""

import numpy as np
from textual.app import App

from engine.music.score import Score
from tui.document import Document
from tui.widgets.pianoroll import ASCII, FIXED_ROWS, GUTTER, HIGH, UNICODE, PianoRoll

from .conftest import grid_text


class RollApp(App):
    def __init__(self, doc, **kw):
        super().__init__()
        self.roll = PianoRoll(doc, **kw)

    def compose(self):
        yield self.roll


def unison_score() -> Score:
    pitches = np.full((4, 16), -1, dtype=np.int16)
    pitches[0, 0:4] = 72
    pitches[1, 4:8] = 67
    pitches[2, 8:12] = 60
    pitches[3, 12:16] = 48
    return Score(pitches)


def row_of(roll, pitch: int) -> str:
    y = FIXED_ROWS + (HIGH - pitch) - roll.scroll_offset.y
    return "".join(s.text for s in roll.render_line(y))[GUTTER:]


def test_glyph_sets_are_distinct_per_voice():
    for glyphs in (ASCII, UNICODE):
        assert len(set(glyphs.held)) == 4
        assert not set(glyphs.held) & set("SATB")
    assert all(c.isascii() for c in "".join(ASCII.held) + ASCII.bar + ASCII.erased + ASCII.beat)


async def test_each_voice_has_its_letter_and_held_glyph():
    doc = Document(unison_score(), autosave=False)
    app = RollApp(doc, ascii_only=True, colour=False)
    async with app.run_test(size=(60, 60)):
        roll = app.roll
        assert row_of(roll, 72).startswith("S===")
        assert row_of(roll, 67)[4:8] == "A~~~"
        assert row_of(roll, 60)[8:12] == "T---"
        assert row_of(roll, 48)[12:16] == "B___"
        lanes = grid_text(roll, FIXED_ROWS).splitlines()
        assert lanes[1][GUTTER : GUTTER + 4] == "C5=="  # the soprano lane spells its note
        assert lanes[4][GUTTER + 12 : GUTTER + 16] == "C3__"


async def test_repeated_notes_show_two_onsets():
    doc = Document(Score.empty(16), autosave=False)
    doc.put_note(72)
    doc.put_note(72)
    app = RollApp(doc, ascii_only=True, colour=False)
    async with app.run_test(size=(60, 60)):
        assert row_of(app.roll, 72)[:8] == "S===S==="


async def test_rows_are_cached_until_the_document_changes():
    doc = Document(unison_score(), autosave=False)
    app = RollApp(doc, ascii_only=True, colour=False)
    async with app.run_test(size=(60, 60)):
        roll = app.roll
        row_of(roll, 65)

        def cached_row():
            return next(v for k, v in roll._cache.items() if k[0] == HIGH - 65)

        cached = cached_row()
        row_of(roll, 65)
        assert cached_row() is cached  # a frame without edits reuses the row
        doc.start_selection(whole_bars=True)
        doc.goto(3)
        doc.anchor = (0, 0)
        doc.whole_bars = False
        doc.all_voices = True
        doc.erase()
        assert row_of(roll, 65)[:4] == "::::"
        lane = grid_text(roll, 2).splitlines()[1]
        assert lane[GUTTER : GUTTER + 4] == "::::"


async def test_zoom_doubles_columns_and_cursor_follows():
    doc = Document(Score.empty(16 * 16), autosave=False)
    app = RollApp(doc, ascii_only=True, colour=False)
    async with app.run_test(size=(60, 20)):
        roll = app.roll
        doc.put_note(72, length=2)
        roll.set_zoom(2)
        roll.invalidate()
        assert row_of(roll, 72)[:4] == "S==="
        doc.goto(200)
        doc.pitch = 40
        roll.cursor_changed()
        x, y = roll.scroll_offset
        assert x <= 200 * 2 < x + 60 - GUTTER
        assert y <= HIGH - 40 < y + 20 - FIXED_ROWS


async def test_preview_changed_cells_and_playhead_render():
    doc = Document(unison_score(), autosave=False)
    app = RollApp(doc, ascii_only=True, colour=True)
    async with app.run_test(size=(60, 60)):
        roll = app.roll
        pitches = doc.score.pitches.copy()
        pitches[0, 0:4] = 74
        roll.preview = (pitches, doc.score.onsets)
        roll.changed = np.zeros(pitches.shape, bool)
        roll.changed[0, 0] = True
        roll.playhead = 2
        roll.invalidate()
        assert row_of(roll, 74).startswith("S===")
        assert row_of(roll, 72).strip(" .|") == ""
        strip = roll.render_line(FIXED_ROWS + HIGH - 74 - roll.scroll_offset.y)
        styles = [seg.style for seg in strip]
        assert any(s is not None and s.bgcolor is not None and s.bold for s in styles)


async def test_a_long_score_scrolled_far_right_draws_its_own_bars():
    pitches = np.full((4, 16 * 300), -1, dtype=np.int16)
    pitches[0, 16 * 250 : 16 * 250 + 4] = 72  # a note in bar 251
    doc = Document(Score(pitches), autosave=False)
    app = RollApp(doc, ascii_only=True, colour=False)
    async with app.run_test(size=(80, 60)):
        roll = app.roll
        doc.goto(16 * 250)
        doc.pitch = 72
        roll.cursor_changed()
        x = roll.scroll_offset.x
        row = row_of(roll, 72)
        start = 16 * 250 - x
        assert row[start : start + 4] == "S==="
        header = "".join(s.text for s in roll.render_line(0))[GUTTER:]
        assert header[start : start + 3] == "251"
        built = {k[1:] for k in roll._cache if isinstance(k[0], int)}
        assert all(w1 - w0 <= 256 for w0, w1 in built)  # only a window of the score is built
