"""Typing notes as a musician does: octaves follow the tune, the cursor follows the notes."""

from textual.widgets import Static

from tui.app import CantorApp
from tui.editing import range_warning, typed_pitch

from .conftest import chorale_bar

SIZE = (100, 30)


def make_app(path=None, score=None) -> CantorApp:
    return CantorApp(path, score=score, load_model=False, ascii_only=True, autosave=False)


def status(app) -> str:
    return str(app.editor.query_one("#status", Static).render())


def warnings(app) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "warning"]


def test_typed_pitch_takes_the_nearest_octave_and_stays_in_the_model():
    assert typed_pitch("g", 60) == (55, None)  # a fourth down beats a fifth up
    assert typed_pitch("e", 60) == (64, None)
    assert typed_pitch("c", 60) == (60, None)
    assert typed_pitch("f", 71)[0] == 65  # a tritone: the lower one
    pitch, message = typed_pitch("b", 81)  # B5 is past the model's top (A5)
    assert pitch == 71 and "B5" in message and "above" in message and "B4" in message
    assert range_warning(0, 43) == "G2 is below the soprano's range C4-G5"
    assert range_warning(3, 48) is None


async def test_the_issue_sequence_gives_the_octaves_a_musician_expects(tmp_path):
    app = make_app(tmp_path / "new.mid")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        doc.pitch = 72
        await pilot.press("c", "c", "home", "less_than_sign", "right_square_bracket")
        assert doc.pitch == 72  # the cursor snapped to the C5 under it
        assert "Soprano C5" in status(app)
        await pilot.press("less_than_sign", "right_square_bracket", "g")
        # C4 C4 then G: the nearest G to the C4 before it is G3 (not G2 from a hidden pitch).
        assert [p for _, _, p in doc.score.notes(0)] == [60, 60, 55]
        assert any("G3 is below the soprano's range" in w for w in warnings(app))


async def test_the_top_of_the_range_says_so_instead_of_dropping_silently(tmp_path):
    app = make_app(tmp_path / "high.mid")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        doc.pitch = 79
        await pilot.press("g", "a", "b")
        assert [p for _, _, p in doc.score.notes(0)] == [79, 81, 71]
        assert any("B5 is above the model's range" in w for w in warnings(app))


async def test_transpose_keys_act_on_the_note_and_leave_no_hidden_pitch():
    app = make_app(score=chorale_bar(2))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        doc = app.editor.doc
        await pilot.press("4")  # bass, C3 in the first bar
        await pilot.press("K", "K")
        assert doc.score.pitches[3, 0] == 50 and doc.pitch == 50
        assert "Bass D3" in status(app)
        await pilot.press("right_curly_bracket")  # onto the G2 of bar 2
        assert doc.pitch == 43 and "Bass G2" in status(app)
        await pilot.press("greater_than_sign")
        assert doc.score.pitches[3, 16] == 55 and doc.pitch == 55
        doc.commit(doc.score.erase(doc.score.pitches >= 0))  # nothing under the cursor now
        before = doc.pitch
        await pilot.press("less_than_sign", "K")
        assert doc.pitch == before
        assert any("No note under the cursor" in n.message for n in app._notifications)


async def test_the_status_line_spells_the_cursor_pitch_for_the_key():
    score = chorale_bar(1).replace(key="F")
    app = make_app(score=score)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.editor.doc.pitch = 70
        app.editor.update_status()
        assert "Soprano Bb4" in status(app)
