"""The grid stays readable: short notes at zoom 1, the zoomed header, the heatmap over the voices."""

import numpy as np
import pytest

from engine.music.score import Score
from tui.document import Document
from tui.widgets.pianoroll import FIXED_ROWS, GUTTER, HIGH

from .test_pianoroll import RollApp


def eighths() -> Score:
    pitches = np.full((4, 16), -1, dtype=np.int16)
    pitches[0, 0:2], pitches[0, 2:4], pitches[0, 4:6] = 73, 71, 69  # C#5 B4 A4 as eighths
    pitches[0, 6:10] = 72
    return Score(pitches)


def lane(roll, voice: int = 0) -> str:
    return "".join(s.text for s in roll.render_line(1 + voice))[GUTTER:]


async def test_short_notes_at_zoom_1_do_not_glue_their_names():
    app = RollApp(Document(eighths(), autosave=False), ascii_only=True, colour=False)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        shown = lane(app.roll)
        assert shown.startswith("C#B=A=C5=="), shown
        app.roll.set_zoom(2)
        await pilot.pause()
        assert lane(app.roll).startswith("C#5=B4==A4==C5"), lane(app.roll)


async def test_the_zoomed_header_keeps_bar_numbers_apart():
    app = RollApp(Document(eighths(), autosave=False), ascii_only=True, colour=False)
    async with app.run_test(size=(60, 20)) as pilot:
        app.roll.set_zoom(2)
        await pilot.pause()
        header = "".join(s.text for s in app.roll.render_line(0))
        assert header[4:6] == " 1", header  # the gutter (key signature) never runs into bar 1


@pytest.mark.parametrize(("key", "ascii_only", "shown"), [
    ("F", True, "b   "), ("E", True, "4#  "), ("Ebm", False, "6\u266d  "), ("D", False, "\u266f\u266f  "),
    ("Am", True, "n   "),
])
async def test_the_header_shows_the_key_signature(key, ascii_only, shown):
    app = RollApp(Document(f_major_tune(key), autosave=False), ascii_only=ascii_only, colour=False)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        header = "".join(s.text for s in app.roll.render_line(0))
        assert header[:4] == shown, header


async def test_an_estimated_key_signature_is_dimmed_and_an_empty_score_shows_none():
    app = RollApp(Document(f_major_tune(None), autosave=False), ascii_only=True, colour=False)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        first = app.roll.render_line(0)
        segment = next(iter(first))
        assert segment.text.startswith("b") and segment.style.dim, segment  # F estimated
        app.roll.document.set_key("F")
        app.roll.invalidate()
        await pilot.pause()
        segment = next(iter(app.roll.render_line(0)))
        assert segment.text.startswith("b") and not segment.style.dim, segment
    empty = Score(np.full((4, 16), -1, dtype=np.int16))
    app = RollApp(Document(empty, autosave=False), ascii_only=True, colour=False)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        assert "".join(s.text for s in app.roll.render_line(0))[:5] == "     "


async def test_the_heatmap_keeps_each_voice_s_letter_at_its_onsets():
    score = eighths()
    app = RollApp(Document(score, autosave=False), ascii_only=True, colour=False)
    async with app.run_test(size=(60, 30)) as pilot:
        await pilot.pause()
        app.roll.confidence = np.full((4, 16), 0.75)
        app.roll.invalidate()
        await pilot.pause()
        y = FIXED_ROWS + (HIGH - 72) - app.roll.scroll_offset.y
        row = "".join(s.text for s in app.roll.render_line(y))[GUTTER:]
        assert row[6:10] == "S777", row  # the soprano's onset, then its confidence per step


def f_major_tune(key: str | None) -> Score:
    pitches = np.full((4, 16), -1, dtype=np.int16)
    pitches[0, 0:4], pitches[0, 4:8], pitches[0, 8:12], pitches[0, 12:16] = 65, 70, 69, 65  # F Bb A F
    return Score(pitches, key=key)


async def test_lanes_and_gutter_spell_notes_for_the_key_given_or_estimated():
    for key in ("F", None):  # given, and estimated from the melody (F major)
        app = RollApp(Document(f_major_tune(key), autosave=False), ascii_only=True, colour=False)
        async with app.run_test(size=(60, 40)) as pilot:
            app.roll.set_zoom(2)
            await pilot.pause()
            shown = lane(app.roll)
            assert "Bb4" in shown and "A#" not in shown, shown
            gutter = ["".join(s.text for s in app.roll.render_line(FIXED_ROWS + HIGH - p))[:4]
                      for p in (70, 69)]
            assert [g.strip() for g in gutter] == ["Bb4", "A4"], gutter
    app = RollApp(Document(f_major_tune("E"), autosave=False), ascii_only=True, colour=False)
    async with app.run_test(size=(60, 40)) as pilot:
        app.roll.set_zoom(2)
        await pilot.pause()
        assert "A#4" in lane(app.roll)  # in E major the same pitch is A sharp
