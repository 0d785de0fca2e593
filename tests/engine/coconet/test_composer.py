"""The Composer facade with a tiny real Coconet: what it keeps, what it writes, how it ranks."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.coconet.checkpoint import save_checkpoint
from engine.coconet.composer import Composer, Progress, place_in_range
from engine.coconet.model import Coconet, CoconetConfig
from engine.errors import CheckpointError, PitchRangeError, ScoreError
from engine.music.counterpoint import RANGES
from engine.music.pianoroll import MODEL_HIGH, MODEL_LOW
from engine.music.score import Score

FAST = {"variants": 2, "steps": 4}


def tiny_model():
    torch.manual_seed(0)
    return Coconet(CoconetConfig(depth=2, width=8))


@pytest.fixture(scope="module")
def composer():
    return Composer(model=tiny_model())


def melody_score(notes, steps_each=4, **meta) -> Score:
    row = np.repeat(np.array(notes, dtype=np.int16), steps_each)
    pitches = np.full((4, row.size), -1, dtype=np.int16)
    pitches[0] = row
    return Score(pitches, **meta)


MELODY = melody_score([72, 74, 76, 77, 79, 77, -1, 74])

melodies = st.lists(st.one_of(st.just(-1), st.integers(MODEL_LOW, MODEL_HIGH)), min_size=1, max_size=10)


@settings(max_examples=10, deadline=None)
@given(notes=melodies, keep=st.sets(st.integers(0, 3), min_size=1, max_size=3), seed=st.integers(0, 99))
def test_harmonize_keeps_the_kept_voices_and_stays_in_range(composer, notes, keep, seed):
    rng = np.random.default_rng(seed)
    pitches = rng.integers(MODEL_LOW, MODEL_HIGH + 1, size=(4, len(notes) * 2)).astype(np.int16)
    pitches[0] = np.repeat(notes, 2)
    score = Score(pitches)
    result = composer.harmonize(score, keep=sorted(keep), seed=seed, **FAST)
    sounding = [n for n in notes if n >= 0]
    low_melody = keep == {0} and sounding and max(sounding) < 60  # moved up an octave and back
    assert len(result.variants) == 2 and not result.cancelled
    assert result.messages == ([] if not low_melody else result.messages[:1])
    assert all(m.startswith("the soprano (") for m in result.messages)
    for variant in result.variants:
        out = variant.score
        for v in keep:
            assert np.array_equal(out.pitches[v], score.pitches[v])  # rests included
            assert np.array_equal(out.onsets[v], score.onsets[v])
        sounding = out.pitches[out.pitches >= 0]
        assert sounding.min() >= MODEL_LOW and sounding.max() <= MODEL_HIGH
        assert out.meta() == score.meta() and np.isfinite(variant.nll)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), density=st.floats(0.05, 1.0))
def test_infill_writes_only_the_masked_cells(composer, seed, density):
    rng = np.random.default_rng(seed)
    score = Score(rng.integers(MODEL_LOW, MODEL_HIGH + 1, size=(4, 16)).astype(np.int16))
    mask = rng.random((4, 16)) < density
    mask[1, 3] = True
    result = composer.infill(score, mask, seed=seed, **FAST)
    for variant in result.variants:
        assert np.array_equal(variant.score.pitches[~mask], score.pitches[~mask])


def test_same_seed_same_music_and_ranking(composer):
    a = composer.harmonize(MELODY, variants=3, steps=6, seed=11)
    b = composer.harmonize(MELODY, variants=3, steps=6, seed=11)
    c = composer.harmonize(MELODY, variants=3, steps=6, seed=12)
    assert [v.seed for v in a.variants] == [v.seed for v in b.variants]
    assert all(x.score == y.score for x, y in zip(a.variants, b.variants))
    assert sorted(v.seed for v in a.variants) == [11, 12, 13]
    assert [v.nll for v in a.variants] == sorted(v.nll for v in a.variants)
    assert not all(x.score.same_notes(y.score) for x, y in zip(a.variants, c.variants))


def test_generated_notes_are_merged_into_held_notes(composer):
    out = composer.harmonize(MELODY, variants=1, steps=3).variants[0].score
    alto = out.pitches[1]
    held = alto[1:] == alto[:-1]
    assert not out.onsets[1][1:][held & (alto[1:] >= 0)].any()


def test_written_voices_return_to_their_own_ranges_not_the_melody_s_octave():
    from engine.coconet.ranges import _user_pitches
    from engine.music.pianoroll import to_classes

    melody = np.array([86, 88, 91, 93])  # D6..A6: moved down an octave for the model
    written = np.array([[74, 76, 79, 81], [69, 72, 74, 72], [61, 64, 67, 71], [50, 52, 55, 43]])
    written[0] = melody - 12
    classes = to_classes(written)[None]
    mask = np.ones((4, 4), dtype=bool)
    mask[0] = False
    original = np.full((4, 4), -1, dtype=np.int16)
    original[0] = melody
    out = _user_pitches(classes, np.full(4, -12), original, mask)[0]
    assert list(out[0]) == list(melody)
    assert list(out[2]) == [61, 64, 67, 71]  # the tenor stays at C#4-B4, inside C3-G4 mostly
    assert list(out[3]) == [50, 52, 55, 43]
    assert list(out[1]) == [69, 72, 74, 72]


def test_a_high_melody_is_shifted_in_and_back_and_reported(composer):
    high = melody_score([86, 88, 91, 93, 91, 88])
    result = composer.harmonize(high, variants=1, steps=3, ending="free")  # no pinned bass
    assert result.messages == [
        (
            "soprano shifted down an octave into the model's range 36..81 and shifted back;"
            " each written voice is placed in the octave nearer its own range"
        )
    ]
    out = result.variants[0].score
    assert np.array_equal(out.pitches[0], high.pitches[0])
    # Each written voice is wherever more of its notes lie in its own range (up with the melody,
    # or where the model wrote it): never a tenor pushed up to C#5-B5 when C#4-B4 fits.
    for v in (1, 2, 3):
        low, high_ = RANGES[v]
        notes = out.pitches[v][out.pitches[v] >= 0]
        inside = np.count_nonzero((notes >= low) & (notes <= high_))
        other = notes + (-12 if notes.min() >= MODEL_LOW + 12 else 12)
        assert inside >= np.count_nonzero((other >= low) & (other <= high_))


def test_under_a_melody_far_below_every_range_the_voices_take_the_nearer_octave():
    """A0-G1 in the soprano, moved up two octaves for the model: an alto the model wrote at
    E2-C3 fits its range in neither octave, and must not go back down to E0-C1 (below the bass)."""
    from engine.coconet.ranges import _user_pitches
    from engine.music.pianoroll import to_classes

    melody = np.array([21, 24, 28, 31])
    written = np.array([melody + 24, [40, 43, 45, 48], [38, 40, 41, 43], [36, 36, 38, 36]])
    mask = np.ones((4, 4), dtype=bool)
    mask[0] = False
    original = np.full((4, 4), -1, dtype=np.int16)
    original[0] = melody
    out = _user_pitches(to_classes(written)[None], np.full(4, 24), original, mask)[0]
    assert list(out[0]) == list(melody)
    assert list(out[1]) == [40, 43, 45, 48] and list(out[2]) == [38, 40, 41, 43]
    assert list(out[3]) == [36, 36, 38, 36]


def test_voices_needing_different_shifts_get_their_own():
    score = melody_score([84, 86, 88])
    pitches = score.pitches.copy()
    pitches[3] = 30
    offsets, messages = place_in_range(Score(pitches), np.zeros((4, 12), dtype=bool))
    assert offsets.tolist() == [-12, 0, 0, 12] and len(messages) == 2
    assert "bass shifted up an octave" in messages[1]


def test_a_melody_below_the_soprano_range_is_harmonized_an_octave_up(composer):
    """A cello tune (B2-A3) as the soprano: the texture is written an octave up and put back, so
    the model does not write the other voices below it; the melody itself is kept exactly."""
    low = melody_score([47, 48, 50, 52, 53, 55, 57, 55])
    mask = np.ones(low.pitches.shape, dtype=bool)
    mask[0] = False
    offsets, messages = place_in_range(low, mask)
    assert offsets.tolist() == [12, 12, 12, 12]
    assert messages == [("the soprano (47..57) lies below its range: harmonized up an octave and"
                        " shifted back; each written voice is placed in the octave nearer its"
                        " own range")]
    result = composer.harmonize(low, variants=1, steps=3)
    assert np.array_equal(result.variants[0].score.pitches[0], low.pitches[0])
    assert result.messages[:1] == messages
    # A melody that reaches middle C is the soprano's own: nothing moves.
    assert place_in_range(melody_score([55, 57, 60]), mask[:, :12])[0].tolist() == [0, 0, 0, 0]


def test_an_unplaceable_melody_is_a_clear_error(composer):
    with pytest.raises(PitchRangeError, match="wider than the model's range 36..81"):
        composer.harmonize(melody_score([30, 90]), **FAST)


def test_three_four_with_a_pickup_composes_whole_bars(composer):
    result = composer.compose(bars=3, time_signature=(3, 4), pickup=4, **FAST)
    out = result.variants[0].score
    assert out.num_steps == 4 + 3 * 12 and out.time_signature == (3, 4) and out.pickup == 4
    sounding = out.pitches[out.pitches >= 0]
    assert sounding.size and sounding.min() >= MODEL_LOW and sounding.max() <= MODEL_HIGH


def test_progress_reports_drafts_inside_the_mask(composer):
    seen: list[Progress] = []
    one_batch = Composer(model=composer.model, lanes=1)  # side by side: tests/engine/coconet/test_lanes
    one_batch.harmonize(MELODY, variants=2, steps=5, progress=seen.append, want_confidence=True)
    assert [p.step for p in seen] == list(range(1, 7)) and seen[-1].total == 6
    last = seen[-1]
    assert last.pitches.shape == (2, 4, 32) and last.scores.shape == (2,)
    assert np.array_equal(last.pitches[:, 0], np.broadcast_to(MELODY.pitches[0], (2, 32)))
    assert not last.changed[:, 0].any()
    assert ((last.confidence > 0) & (last.confidence <= 1)).all()
    assert (last.confidence[:, 0] == 1).all()


def test_cancel_returns_nothing_and_leaves_the_score_untouched(composer):
    before = MELODY.pitches.copy()
    steps = []
    result = composer.harmonize(
        MELODY, steps=50, progress=lambda p: steps.append(p.step), cancel=lambda: len(steps) >= 2
    )
    assert result.cancelled and result.variants == [] and steps == [1, 2]
    assert np.array_equal(MELODY.pitches, before)


def test_polish_starts_from_the_draft(composer):
    draft = composer.harmonize(MELODY, variants=1, steps=3).variants[0].score
    mask = np.zeros((4, 32), dtype=bool)
    mask[1:] = True
    same = composer.polish(draft, mask, steps=0, variants=1)
    assert same.variants[0].score.same_notes(draft)
    polished = composer.polish(draft, mask, steps=4, variants=2)
    assert all(np.array_equal(v.score.pitches[0], draft.pitches[0]) for v in polished.variants)
    with pytest.raises(ScoreError, match="gibbs"):
        composer.polish(draft, mask, steps=4, sampler="ancestral")


def test_confidence_is_a_probability_per_cell(composer):
    conf = composer.confidence(MELODY)
    assert conf.shape == (4, 32) and ((conf > 0) & (conf <= 1)).all()
    assert composer.confidence(Score.empty(0)).shape == (4, 0)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"variants": 0}, "variants"),
        ({"steps": -1}, "steps"),
        ({"temperature": 0}, "temperature"),
        ({"sampler": "beam"}, "sampler"),
    ],
)
def test_bad_requests_are_one_line_errors(composer, options, message):
    with pytest.raises(ScoreError, match=message):
        composer.harmonize(MELODY, **options)


def test_bad_masks_and_voices_are_refused(composer):
    with pytest.raises(ScoreError, match="shape"):
        composer.infill(MELODY, np.ones((4, 3), dtype=bool))
    with pytest.raises(ScoreError, match="nothing to generate"):
        composer.infill(MELODY, np.zeros((4, 32), dtype=bool))
    with pytest.raises(ScoreError, match="0..3"):
        composer.harmonize(MELODY, keep=(4,))


def test_checkpoint_is_loaded_lazily_from_a_file(tmp_path):
    missing = Composer(checkpoint=tmp_path / "none.pt")  # constructing costs nothing
    with pytest.raises(CheckpointError):
        missing.harmonize(MELODY, **FAST)
    model = tiny_model()
    path = tmp_path / "tiny.pt"
    save_checkpoint(
        path,
        {
            "kind": "coconet",
            "config": model.config.to_dict(),
            "state_dict": model.state_dict(),
            "step": 0,
            "metrics": {},
            "data": {"source": "test"},
        },
    )
    loaded = Composer(checkpoint=path).harmonize(MELODY, variants=1, steps=2, seed=3)
    direct = Composer(model=model).harmonize(MELODY, variants=1, steps=2, seed=3)
    assert loaded.variants[0].score == direct.variants[0].score


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_precisions_keep_the_melody_and_repeat_themselves(precision):
    composer = Composer(model=tiny_model(), precision=precision)
    a = composer.harmonize(MELODY, variants=2, steps=3, seed=1)
    b = composer.harmonize(MELODY, variants=2, steps=3, seed=1)
    assert composer.precision == precision
    assert all(x.score == y.score for x, y in zip(a.variants, b.variants))
    assert all(np.array_equal(v.score.pitches[0], MELODY.pitches[0]) for v in a.variants)
    with pytest.raises(ScoreError, match="precision"):
        Composer(model=tiny_model(), precision="fp8")


def test_nll_of_cells_as_they_stand_matches_the_ranking(composer):
    # no tonic pins: the ranking covers the cells the model wrote, not a bass a rule pinned
    best = composer.harmonize(MELODY, variants=1, steps=3, seed=2, opening="free",
                              ending="free").variants[0]
    mask = np.zeros((4, 32), dtype=bool)
    mask[1:] = True
    assert composer.nll(best.score, mask) == pytest.approx(best.nll, rel=1e-4)
    with pytest.raises(ScoreError):
        composer.nll(best.score, np.zeros((4, 32), dtype=bool))


def test_threads_are_chosen_by_timing_or_given():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        chosen = Composer(model=tiny_model()).threads
        assert chosen in (1, 2) and torch.get_num_threads() == chosen
        assert Composer(model=tiny_model(), threads=1).threads == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
