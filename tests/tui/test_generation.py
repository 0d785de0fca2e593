"""Asking the model from the composer, with a tiny untrained checkpoint made in the test."""

import numpy as np

from engine.music.keys import parse_key
from tui.app import CantorApp
from tui.settings import Settings
from tui.widgets.variants import VariantsPanel

from .conftest import chorale_bar, wait_until

SIZE = (100, 30)


def make_app(checkpoint, steps=6, variants=3, score=None) -> CantorApp:
    return CantorApp(
        score=score or chorale_bar(4),
        checkpoint=checkpoint,
        load_model=True,
        autosave=False,
        ascii_only=True,
        settings=Settings(steps=steps, variants=variants),
    )


async def test_infill_shows_variants_and_accept_is_one_undo_step(tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        doc = editor.doc
        original = doc.score
        await pilot.press("right_curly_bracket", "V", "x")  # erase bar 2
        erased = doc.erased.copy()
        await pilot.press("i")
        assert await wait_until(pilot, lambda: editor.variants_showing)
        panel = editor.query_one(VariantsPanel)
        assert len(panel.variants) == 3
        nlls = [v.nll for v in panel.variants]
        assert nlls == sorted(nlls)
        # The grid previews a variant; the document is untouched until accepted.
        assert editor.roll.preview is not None and doc.erased.any()
        await pilot.press("space")  # audition: plays, or says once that there is no sound
        assert await wait_until(pilot, lambda: editor._playing or editor._audio_error, 20)
        await pilot.press("down")
        assert editor._variant_index == 1
        assert np.array_equal(editor.roll.preview[0], panel.variants[1].score.pitches)
        await pilot.press("enter")
        assert not editor.variants_showing and not doc.erased.any()
        chosen = panel.variants[1].score
        assert doc.score.same_notes(chosen)
        # Only the erased cells changed, and they are all filled with pitches or rests.
        assert np.array_equal(doc.score.pitches[~erased], original.pitches[~erased])
        await pilot.press("u")
        assert doc.erased.any() and np.array_equal(doc.erased, erased)


async def test_escape_cancels_within_a_step_and_keeps_the_score(tiny_checkpoint):
    app = make_app(tiny_checkpoint, steps=5000, variants=2)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        doc = editor.doc
        await pilot.press("V", "x")
        before = doc.score
        await pilot.press("i")
        # Wait for a few animation frames: the grid shows the draft while it is rewritten.
        assert await wait_until(pilot, lambda: editor.roll.preview is not None)
        assert "INFILL" in str(editor.query_one("#status").render())
        await pilot.press("escape")
        assert not editor.busy and editor.roll.preview is None
        await pilot.pause(0.3)
        assert not editor.variants_showing
        assert doc.score is before and doc.erased.any()
        assert all(w.is_finished or w.is_cancelled for w in app.workers if w.group == "generate")


async def test_discarding_variants_leaves_the_score(tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        doc = editor.doc
        await pilot.press("v", "l", "l", "l", "x", "i")
        assert await wait_until(pilot, lambda: editor.variants_showing)
        before = doc.score
        await pilot.press("escape")
        assert not editor.variants_showing and doc.score is before
        assert editor.roll.preview is None


async def test_harmonize_keeps_the_current_voice(tiny_checkpoint):
    app = make_app(tiny_checkpoint, variants=1)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        doc = editor.doc
        soprano = doc.score.pitches[0].copy()
        await pilot.press("r")
        assert await wait_until(pilot, lambda: not editor.busy)
        assert doc.can_undo  # one variant is accepted at once
        assert np.array_equal(doc.score.pitches[0], soprano)
        assert not np.array_equal(doc.score.pitches[1:], chorale_bar(4).pitches[1:])


async def test_harmonize_around_soprano_and_bass_fills_alto_and_tenor(tiny_checkpoint):
    app = make_app(tiny_checkpoint, variants=1)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        doc = editor.doc
        said = []
        notify = app.notify
        app.notify = lambda message, *args, **kw: (said.append(message), notify(message, *args, **kw))
        before = doc.score
        await pilot.press("G", "backspace", "x", "enter")  # not a voice: said, nothing runs
        await pilot.pause()
        assert any("unknown voice 'X'" in m for m in said) and not editor.busy
        assert doc.score is before
        await pilot.press("G")
        await pilot.pause()
        assert app.screen.query_one("#path").value == "S"  # the current voice is offered
        await pilot.press("backspace", "s", "comma", "b", "enter")
        assert await wait_until(pilot, lambda: doc.can_undo and not editor.busy)
        outer, inner = [0, 3], [1, 2]
        assert np.array_equal(doc.score.pitches[outer], before.pitches[outer])
        assert not np.array_equal(doc.score.pitches[inner], before.pitches[inner])
        assert any("soprano, bass" in m for m in said)


async def test_edits_wait_while_the_model_works(tiny_checkpoint):
    app = make_app(tiny_checkpoint, steps=10_000, variants=1)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        said = []  # every notification, kept after its toast expires
        notify = app.notify
        app.notify = lambda message, *args, **kw: (said.append(message), notify(message, *args, **kw))
        await pilot.press("r")
        assert editor.busy
        before = editor.doc.score
        # Pilot waits for the app to be idle, so the run may end (and be accepted) before these
        # presses return: check the refusal itself, then that only the run changed the score.
        await pilot.press("x", "l")  # delete is refused, moving is fine
        assert any("model is working" in message for message in said)
        assert editor.doc.step == 1
        await pilot.press("escape")
        if editor.doc.can_undo:  # the run finished and its variant was accepted: one undo step
            editor.doc.undo()
        assert editor.doc.score.same_notes(before)


async def test_missing_model_is_reported_not_fatal(tmp_path):
    app = make_app(tmp_path / "missing.pt")
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        await pilot.press("v", "x", "i")
        assert await wait_until(pilot, lambda: not editor.busy)
        assert any(n.severity == "error" for n in app._notifications)
        assert app.is_running and editor.doc.erased.any()


async def test_heatmap_shows_confidence_digits(tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        await pilot.press("t")
        assert await wait_until(pilot, lambda: editor.roll.confidence is not None)
        conf = editor.roll.confidence
        assert conf.shape == editor.doc.score.pitches.shape
        assert ((conf >= 0) & (conf <= 1)).all()
        await pilot.press("t")
        assert editor.roll.confidence is None


async def test_accompany_keeps_the_melody(tiny_checkpoint, tmp_path_factory):
    from tests.engine.accompany.test_accompany import make_tiny_checkpoint

    accompany_ckpt = make_tiny_checkpoint(tmp_path_factory.mktemp("accompany"), steps=3)
    score = chorale_bar(4)
    app = CantorApp(
        score=score,
        checkpoint=tiny_checkpoint,
        accompany_checkpoint=accompany_ckpt,
        load_model=True,
        autosave=False,
        ascii_only=True,
        settings=Settings(steps=4, variants=2, polish=2),
    )
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        await pilot.press("A")
        assert await wait_until(pilot, lambda: editor.variants_showing or not editor.busy, 60)
        assert editor.variants_showing, [n.message for n in app._notifications]
        await pilot.press("enter")
        doc = editor.doc
        assert np.array_equal(doc.score.pitches[0], score.pitches[0])
        assert not doc.score.same_notes(score)


async def test_compose_replaces_the_score_as_one_step(tiny_checkpoint):
    app = make_app(tiny_checkpoint, variants=1, score=chorale_bar(2))
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        await pilot.press("ctrl+n", "y")  # it asks first: the new piece replaces this one
        assert await wait_until(pilot, lambda: not editor.busy)
        doc = editor.doc
        assert doc.score.num_steps == 8 * 16
        # A plan (engine/coconet/plan.py): the score's key, phrase ends, a final tonic chord.
        old = chorale_bar(2)
        assert doc.score.key == (old.key or doc.score.key) and doc.score.key is not None
        assert doc.score.time_signature == old.time_signature
        assert doc.score.fermatas is not None and doc.score.fermatas[-1]
        tonic = parse_key(doc.score.key)[0]
        assert doc.score.pitches[0, -1] % 12 == tonic and doc.score.pitches[3, -1] % 12 == tonic
        await pilot.press("u")
        assert doc.score.same_notes(chorale_bar(2))


async def test_palette_finds_and_runs_an_action(tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"zoom: 1 or 2")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.editor.roll.zoom == 2


async def test_the_first_variant_is_previewed_before_the_others_arrive(tiny_checkpoint, monkeypatch):
    # What the editor shows is recorded as each message is handled: the whole run can end
    # before a key press returns (Pilot waits for the app to go idle), so polling afterwards
    # could miss the first variant's moment on the grid.
    from tui.generation import GenerationActions

    seen, frames = [], []
    handle_variant = GenerationActions.on_variant_ready
    handle_step = GenerationActions.on_generation_step

    def on_variant_ready(editor, message):
        handle_variant(editor, message)
        first = editor.first_variant
        seen.append((first, editor.busy, editor.variants_showing,
                     first is not None and np.array_equal(editor.roll.preview[0], first.score.pitches)))

    def on_generation_step(editor, message):
        handle_step(editor, message)
        if editor.first_variant is not None:
            frames.append(np.array_equal(editor.roll.preview[0], editor.first_variant.score.pitches))

    monkeypatch.setattr(GenerationActions, "on_variant_ready", on_variant_ready)
    monkeypatch.setattr(GenerationActions, "on_generation_step", on_generation_step)
    app = make_app(tiny_checkpoint, steps=300, variants=3)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        await pilot.press("right_curly_bracket", "V", "x", "i")
        assert await wait_until(pilot, lambda: editor.variants_showing, 120)
        assert len(seen) == 3  # one message per variant
        first, busy, showing, previewed = seen[0]
        assert first is not None and busy and not showing and previewed
        # The later variants do not replace it, nor do the later animation frames.
        assert all(s[0] is first for s in seen[1:]) and all(frames)
        panel = editor.query_one(VariantsPanel)
        assert len(panel.variants) == 3 and first.seed in [v.seed for v in panel.variants]
        assert editor.first_variant is None


async def test_escape_after_the_first_variant_offers_the_finished_ones(tiny_checkpoint):
    app = make_app(tiny_checkpoint, steps=5000, variants=3)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        doc = editor.doc
        await pilot.press("right_curly_bracket", "V", "x")
        before, erased = doc.score, doc.erased.copy()
        await pilot.press("i")
        assert await wait_until(pilot, lambda: editor.first_variant is not None, 120)
        first = editor.first_variant
        assert editor.busy
        await pilot.press("escape")
        assert not editor.busy and editor.variants_showing
        panel = editor.query_one(VariantsPanel)
        assert 1 <= len(panel.variants) < 3 and first in panel.variants
        assert doc.score is before and np.array_equal(doc.erased, erased)  # nothing taken yet
        await pilot.pause(0.3)
        assert all(w.is_finished or w.is_cancelled for w in app.workers if w.group == "generate")
        await pilot.press("enter")  # keep the best of the finished ones
        assert not editor.variants_showing and not doc.erased.any()
        assert doc.score.same_notes(panel.variants[0].score)


async def test_notes_typed_into_an_erased_region_are_pinned_and_the_model_fills_around_them(
        tiny_checkpoint):
    app = make_app(tiny_checkpoint, variants=2)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        doc = editor.doc
        await pilot.press("right_curly_bracket", "V", "x")  # erase bar 2, all voices
        erased = doc.erased.copy()
        start = int(np.flatnonzero(erased[1])[0])
        await pilot.press("escape", "2")  # the alto, at the start of the erased bar
        assert doc.voice == 1 and doc.step == start
        await pilot.press("8", "a")  # a half note A: pinned inside the erased region
        pinned = doc.score.pitches[1, start:start + 8].copy()
        assert (pinned >= 0).all() and not doc.erased[1, start:start + 8].any()
        assert doc.erased[1, start + 8:].any() and doc.erased[[0, 2, 3]].any()
        await pilot.press("i")
        assert await wait_until(pilot, lambda: editor.variants_showing)
        await pilot.press("enter")
        assert not doc.erased.any()
        assert np.array_equal(doc.score.pitches[1, start:start + 8], pinned)  # kept as typed
        # Under the pinned note no written voice is silent (elsewhere in the bar, where nothing
        # kept sounds, this untrained model may write rests).
        assert (doc.score.pitches[[0, 2, 3], start:start + 8] >= 0).all()
        assert not np.array_equal(doc.score.pitches[erased], np.full(int(erased.sum()), -1))


async def test_R_brings_the_last_variants_back_while_the_region_holds_one(tiny_checkpoint):
    app = make_app(tiny_checkpoint, variants=3)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        doc = editor.doc
        await pilot.press("R")  # nothing asked yet: said, nothing shown
        assert not editor.variants_showing
        await pilot.press("right_curly_bracket", "V", "x", "i")
        assert await wait_until(pilot, lambda: editor.variants_showing)
        panel = editor.query_one(VariantsPanel)
        first, second = panel.variants[0].score, panel.variants[1].score
        await pilot.press("enter")  # accept the first
        region = first.pitches != doc.score.pitches  # nothing: the first is what the score holds
        assert not region.any()
        await pilot.press("home", "1", "c")  # an edit outside the region (bar 1): kept
        edited = doc.score.pitches[0, 0]
        await pilot.press("R")
        assert await wait_until(pilot, lambda: editor.variants_showing)
        assert len(editor.query_one(VariantsPanel).variants) == 3
        await pilot.press("down", "enter")  # now take the second instead
        assert not editor.variants_showing
        assert np.array_equal(doc.score.pitches[:, 16:32], second.pitches[:, 16:32])
        assert doc.score.pitches[0, 0] == edited  # the edit made since is still there
        await pilot.press("u")  # one undo step back to the first (the cursor goes there)
        assert np.array_equal(doc.score.pitches[:, 16:32], first.pitches[:, 16:32])
        assert 16 <= doc.step < 32
        await pilot.press("home", "right_curly_bracket", "2", "d")  # an edit inside the region
        await pilot.press("R")
        await pilot.pause()
        assert not editor.variants_showing  # the region no longer holds a variant


async def test_a_harmonic_rhythm_from_the_settings_holds_the_written_voices(tiny_checkpoint):
    app = make_app(tiny_checkpoint, variants=2)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        doc = editor.doc
        await pilot.press("comma")
        app.screen.query_one("#chords").value = "often"  # refused: the form stays
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.settings.chords == "free"
        app.screen.query_one("#chords").value = "2"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.settings.chords == "2"
        await pilot.press("1", "r")  # keep the soprano, write the others
        assert await wait_until(pilot, lambda: editor.variants_showing)
        for variant in editor.query_one(VariantsPanel).variants:
            for v in (1, 2, 3):
                for half in range(0, doc.score.num_steps, 8):
                    assert len(set(variant.score.pitches[v, half:half + 8].tolist())) == 1


async def test_opening_another_file_drops_the_run_and_the_variants_of_the_old_one(
        tiny_checkpoint, tmp_path):
    """Variants of one file must never be accepted into another: opening a file closes the panel,
    stops a run (its late messages are dropped) and forgets the last variants (R)."""
    from engine.music.midi import save_midi

    other = tmp_path / "other.mid"
    save_midi(chorale_bar(2), other)
    app = make_app(tiny_checkpoint)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        await pilot.press("V", "x", "i")
        assert await wait_until(pilot, lambda: editor.variants_showing)
        app.open_file(other)  # as ctrl+o does once the name is given
        await pilot.pause()
        assert not editor.variants_showing and not editor.query(VariantsPanel)
        opened = editor.doc.score
        await pilot.press("R")  # the old file's variants are not offered again
        assert editor.doc.score is opened and not editor.variants_showing
        # A run still going when another file opens leaves nothing behind either.
        app.settings.steps = 5000
        await pilot.press("V", "x", "i")
        assert await wait_until(pilot, lambda: editor.roll.preview is not None)
        app.open_file(other)
        await pilot.pause(0.5)
        assert not editor.busy and editor.roll.preview is None and not editor.variants_showing
        assert all(w.is_finished or w.is_cancelled for w in app.workers if w.group == "generate")
        assert editor.doc.score.same_notes(chorale_bar(2))


async def test_variants_on_show_are_not_saved_and_quitting_asks(tiny_checkpoint, tmp_path):
    from tui.screens.prompt import Choice

    path = tmp_path / "song.mid"
    from engine.music.midi import save_midi

    save_midi(chorale_bar(4), path)
    app = CantorApp(path, checkpoint=tiny_checkpoint, load_model=True, autosave=False,
                    ascii_only=True, settings=Settings(steps=6, variants=3))
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        await pilot.press("V", "x", "ctrl+s")  # the erased score is saved: nothing unsaved
        assert not editor.doc.dirty
        saved = path.read_bytes()
        await pilot.press("i")
        assert await wait_until(pilot, lambda: editor.variants_showing)
        await pilot.press("ctrl+s")
        assert path.read_bytes() == saved and editor.variants_showing
        assert any("Accept (enter) or discard" in n.message for n in app._notifications)
        await pilot.press("q")
        assert isinstance(app.screen, Choice) and "not accepted" in app.screen.question
        await pilot.press("escape")
        assert app.is_running and editor.variants_showing
        await pilot.press("q", "q")
        await pilot.pause()
    assert app.return_code == 0
