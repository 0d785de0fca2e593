"""accompany(): the melody comes back unchanged, variants differ, interpolation, checkpoints."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from engine.accompany.interpolate import interpolate
from engine.accompany.model import AccompanimentVAE, AccompanyConfig, SurrogateEncoder
from engine.accompany.predict import (
    AccompanyModel,
    accompany,
    blend_window,
    load_accompany,
    model_from_payload,
    one_torch_thread,
    segment_starts,
)
from engine.coconet.checkpoint import save_checkpoint
from engine.errors import CheckpointError, PitchRangeError, ScoreError
from engine.music.score import Score
from tests.engine.training.test_accompany import write_data


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_tiny_checkpoint(folder, steps: int = 30):
    """A tiny accompaniment checkpoint trained for a few steps on made-up chorales."""
    from engine.training.accompany import train_accompany

    folder.mkdir(parents=True, exist_ok=True)
    args = argparse.Namespace(
        data=f"jsb16:{write_data(folder)}", out=str(folder / "run"), resume=False, minutes=None,
        seed=0, max_steps=steps, batch_size=16, lr=3e-3, threads=1, config="tiny",
    )
    return train_accompany(args)["checkpoint"]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    path = make_tiny_checkpoint(tmp_path_factory.mktemp("accompany"))
    torch.set_num_threads(before)
    return path


def melody_score(steps=64, low=64, voice=0, seed=3) -> Score:
    rng = np.random.default_rng(seed)
    pitches = np.full((4, steps), -1, dtype=np.int16)
    notes = low + np.clip(np.cumsum(rng.integers(-2, 3, steps // 4)), 0, 12)
    pitches[voice] = np.repeat(notes, 4)
    pitches[voice, 20:24] = -1  # a rest
    onsets = pitches >= 0
    onsets[voice, 1::4] = True  # repeated 16ths inside some quarters: onsets must survive
    onsets[voice, 20:24] = False
    return Score(pitches, onsets, title="tune", tempo_bpm=72, programs=(0, 1, 2, 3))


def test_segments_cover_the_score_with_half_overlap():
    assert segment_starts(10, 16) == ([0], 16)
    assert segment_starts(16, 16) == ([0], 16)
    starts, padded = segment_starts(40, 16)
    assert starts == [0, 8, 16, 24] and padded == 40
    starts, padded = segment_starts(41, 16)
    assert starts[-1] + 16 == padded >= 41
    window = blend_window(16, first=False, last=False)
    assert window[0] < window[7] and window[8] > window[15]
    assert (blend_window(16, True, False)[:8] == 1).all()


@pytest.mark.parametrize("voice", [0, 1, 3])
def test_melody_is_returned_unchanged(tiny_checkpoint, voice):
    score = melody_score(steps=72, voice=voice)
    result = accompany(score, voice, variants=2, checkpoint=tiny_checkpoint)
    assert not result.cancelled and len(result.variants) == 2
    for variant in result.variants:
        out = variant.score
        assert np.array_equal(out.pitches[voice], score.pitches[voice])
        assert np.array_equal(out.onsets[voice], score.onsets[voice])
        assert out.num_steps == score.num_steps and out.meta() == score.meta()
        others = [v for v in range(4) if v != voice]
        assert (out.pitches[others] >= 0).mean() > 0.5  # the accompaniment is written
        assert np.isfinite(variant.nll)
    assert [v.nll for v in result.variants] == sorted(v.nll for v in result.variants)


def test_out_of_range_melody_is_shifted_and_kept(tiny_checkpoint):
    score = melody_score(low=86)  # above the model's range 36..81
    result = accompany(score, checkpoint=tiny_checkpoint)
    assert any("octave" in m for m in result.messages)
    out = result.variants[0].score
    assert np.array_equal(out.pitches[0], score.pitches[0])
    with pytest.raises(PitchRangeError, match="wider"):
        wide = score.pitches.copy()
        wide[0, :4], wide[0, 4:8] = 30, 100
        accompany(Score(wide), checkpoint=tiny_checkpoint)


def test_variants_differ_and_seeds_repeat(tiny_checkpoint):
    score = melody_score()
    result = accompany(score, variants=4, seed=5, checkpoint=tiny_checkpoint)
    accompaniments = [v.score.pitches[1:].tobytes() for v in result.variants]
    assert len(set(accompaniments)) == 4
    again = accompany(score, variants=4, seed=5, checkpoint=tiny_checkpoint)
    assert [v.score.pitches.tobytes() for v in again.variants] == [
        v.score.pitches.tobytes() for v in result.variants
    ]
    # One seed draws the whole set (the first variant is the encoder's mean): each is labelled
    # with the request's seed, which gives the same set again.
    assert [v.seed for v in result.variants] == [5, 5, 5, 5]


def test_bad_requests_are_clear_errors(tiny_checkpoint):
    score = melody_score()
    with pytest.raises(ScoreError, match="alto has no notes"):
        accompany(score, 1, checkpoint=tiny_checkpoint)
    with pytest.raises(ScoreError, match="melody voice"):
        accompany(score, 4, checkpoint=tiny_checkpoint)
    with pytest.raises(ScoreError, match="variants"):
        accompany(score, variants=0, checkpoint=tiny_checkpoint)
    with pytest.raises(ScoreError, match="empty"):
        accompany(Score.empty(0), checkpoint=tiny_checkpoint)


def test_cancel_before_start_returns_nothing(tiny_checkpoint):
    result = accompany(melody_score(), checkpoint=tiny_checkpoint, cancel=lambda: True)
    assert result.cancelled and result.variants == []


def test_progress_reports_the_draft(tiny_checkpoint):
    seen = []
    accompany(melody_score(), variants=2, checkpoint=tiny_checkpoint, progress=seen.append)
    assert len(seen) == 1 and seen[0].pitches.shape == (2, 4, 64)
    assert seen[0].changed[:, 1:].all() and not seen[0].changed[:, 0].any()


def test_checkpoint_round_trip_and_bad_files(tiny_checkpoint, tmp_path):
    model = load_accompany(tiny_checkpoint)
    copy = model_from_payload(model.payload)
    score = melody_score()
    one = accompany(score, checkpoint=model).variants[0].score
    two = accompany(score, checkpoint=copy).variants[0].score
    assert one.same_notes(two)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        load_accompany(garbage)
    with pytest.raises(CheckpointError, match="not found"):
        load_accompany(tmp_path / "absent.pt")
    wrong = tmp_path / "wrong.pt"
    save_checkpoint(wrong, {**model.payload, "kind": "coconet"})
    with pytest.raises(CheckpointError, match="coconet"):
        load_accompany(wrong)
    broken = tmp_path / "broken.pt"
    payload = dict(model.payload)
    payload["config"] = {**payload["config"], "width": 99}
    save_checkpoint(broken, payload)
    with pytest.raises(CheckpointError, match="usable"):
        load_accompany(broken)


def overfit_model(scores, steps=150) -> AccompanyModel:
    """A small model trained to reproduce two pieces exactly (for the interpolation ends)."""
    from engine.accompany.model import reconstruction_loss

    config = AccompanyConfig(embed=16, width=32, latent=8, surrogate_width=16, segment=16)
    torch.manual_seed(0)
    vae = AccompanimentVAE(config)
    tracks = torch.from_numpy(np.stack([s.pitches.astype(np.int64) - 36 for s in scores]))
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    for _ in range(steps):
        logits, _, _ = vae(tracks, sample=False)
        loss = reconstruction_loss(logits, tracks, config)
        opt.zero_grad()
        loss.backward()
        opt.step()
    payload = {"kind": "accompany", "config": config.to_dict(),
               "state_dict": {"vae": vae.state_dict(), "surrogate": SurrogateEncoder(config).state_dict()},
               "latent_sigma": [1.0] * config.latent}
    return model_from_payload(payload)


def chord_score(root: int, shape) -> Score:
    pitches = np.array([[root + d] * 16 for d in (0, *(-x for x in shape))], dtype=np.int16)
    pitches[1:, 8:] -= np.array(shape[:1] * 3, dtype=np.int16)[:, None] // 2
    return Score(pitches)


def test_interpolation_ends_are_the_sources(tmp_path):
    a = chord_score(72, (4, 9, 17))
    b = chord_score(72, (3, 8, 15))
    model = overfit_model([a, b])
    frames = interpolate(a, b, 5, checkpoint=model)
    assert len(frames) == 5
    assert np.array_equal(frames[0].pitches, a.pitches)
    assert np.array_equal(frames[-1].pitches, b.pitches)
    for frame in frames:  # every frame keeps a melody exactly
        assert np.array_equal(frame.pitches[0], a.pitches[0])
    with pytest.raises(ScoreError, match="same length"):
        interpolate(a, a.slice(0, 8), checkpoint=model)


def test_polish_keeps_the_melody(tiny_checkpoint):
    composer_module = pytest.importorskip("engine.coconet.composer", reason="needs the Composer (Gibbs)")
    from engine.coconet.model import Coconet, CoconetConfig

    torch.manual_seed(0)
    composer = composer_module.Composer(model=Coconet(CoconetConfig(depth=2, width=8)))
    score = melody_score()
    steps = []
    result = accompany(score, variants=2, polish=3, checkpoint=tiny_checkpoint, composer=composer,
                       progress=lambda p: steps.append((p.step, p.total)))
    assert len(result.variants) == 2
    for variant in result.variants:
        assert np.array_equal(variant.score.pitches[0], score.pitches[0])
        assert np.array_equal(variant.score.onsets[0], score.onsets[0])
    assert steps[-1][1] == 6 and max(s for s, _ in steps) <= 6
    calls = []
    # Not cancelled when asked before the draft, cancelled when asked before the polish.
    stopped = accompany(score, polish=3, checkpoint=tiny_checkpoint, composer=composer,
                        cancel=lambda: bool(calls.append(1)) or len(calls) > 1)
    assert stopped.cancelled and stopped.variants == []


def test_repair_after_the_draft_keeps_the_melody_and_never_adds_findings(tiny_checkpoint):
    from engine.coconet.composer import Composer
    from engine.coconet.model import Coconet, CoconetConfig
    from engine.coconet.repair import Repairer
    from engine.music.counterpoint import check_score

    torch.manual_seed(0)
    composer = Composer(model=Coconet(CoconetConfig(depth=2, width=8)), threads=1)
    score = melody_score()
    drafts = accompany(score, variants=2, seed=3, checkpoint=tiny_checkpoint)
    steps = []
    fixed = accompany(score, variants=2, seed=3, repair=2, checkpoint=tiny_checkpoint,
                      composer=composer, progress=lambda p: steps.append((p.step, p.total)))
    before = {v.seed: len(check_score(v.score).findings) for v in drafts.variants}
    for variant in fixed.variants:
        assert np.array_equal(variant.score.pitches[0], score.pitches[0])
        assert len(check_score(variant.score).findings) <= before[variant.seed]
    assert steps[-1] == (2 * 2 * Repairer().passes,) * 2
    with pytest.raises(ScoreError, match="repair"):
        accompany(score, repair=-1, checkpoint=tiny_checkpoint)


def test_refinement_fits_the_codes_to_the_melody(tiny_checkpoint):
    import torch.nn.functional as F

    from engine.accompany.predict import _segments, melody_classes, refine_latents

    model = load_accompany(tiny_checkpoint)
    score = melody_score()
    _, _, segs = _segments(model, melody_classes(score.pitches[0], 0, model.config))
    with torch.no_grad():
        start = model.surrogate(segs)
    sigma = torch.from_numpy(model.latent_sigma)
    moved = refine_latents(model, start, segs, sigma, steps=8)

    def melody_loss(z):
        with torch.no_grad():
            return float(F.cross_entropy(model.vae.decode(z)[0], segs))

    assert melody_loss(moved) < melody_loss(start)
    result = accompany(score, variants=2, refine=4, checkpoint=tiny_checkpoint)
    for variant in result.variants:
        assert np.array_equal(variant.score.pitches[0], score.pitches[0])
    assert all(not p.requires_grad for p in model.vae.parameters())


def test_draft_runs_on_one_thread_and_gives_the_threads_back(tiny_checkpoint):
    before = torch.get_num_threads()
    seen = []
    with one_torch_thread():
        seen.append(torch.get_num_threads())
    with pytest.raises(RuntimeError), one_torch_thread():
        raise RuntimeError("the block failed")
    assert seen == [1] and torch.get_num_threads() == before
    single = accompany(melody_score(steps=48), 0, variants=2, checkpoint=tiny_checkpoint)
    assert torch.get_num_threads() == before
    torch.set_num_threads(1)
    try:  # the same music whatever the caller's thread count
        again = accompany(melody_score(steps=48), 0, variants=2, checkpoint=tiny_checkpoint)
    finally:
        torch.set_num_threads(before)
    assert all(np.array_equal(a.score.pitches, b.score.pitches)
               for a, b in zip(single.variants, again.variants))


def test_the_accompaniment_goes_back_with_the_melody_only_where_that_is_nearer_the_ranges():
    from engine.accompany.predict import _in_voice_ranges

    with_melody = {1: np.array([19, 24, -1]), 2: np.array([12, 16, 19]), 3: np.array([2, 5, 7])}
    model_octave = {v: np.where(r >= 0, r + 36, -1) for v, r in with_melody.items()}
    chosen = _in_voice_ranges([with_melody, model_octave])  # under a melody at A0-G1
    assert chosen is model_octave
    fits = {1: np.array([60, 62]), 2: np.array([52, 55]), 3: np.array([43, 48])}
    higher = {v: r + 12 for v, r in fits.items()}
    assert _in_voice_ranges([fits, higher]) is fits  # one set for all: no voice crosses another


def test_a_melody_in_an_inner_voice_is_accompanied_by_coconet_around_it(tiny_checkpoint):
    from engine.coconet.composer import Composer
    from engine.coconet.model import Coconet, CoconetConfig

    torch.manual_seed(0)
    composer = Composer(model=Coconet(CoconetConfig(depth=2, width=8)))
    top = melody_score()
    pitches = np.full_like(top.pitches, -1)
    pitches[1] = np.where(top.pitches[0] >= 0, top.pitches[0] - 12, -1)  # the tune in the alto
    score = Score(pitches)
    result = accompany(score, 1, variants=2, seed=3, checkpoint=tiny_checkpoint,
                       composer=composer, repair=1)
    assert "written by Coconet" in result.messages[0]
    for variant in result.variants:
        assert np.array_equal(variant.score.pitches[1], score.pitches[1])
        assert (variant.score.pitches[[0, 2, 3]] >= 0).any()


def test_voices_already_written_are_replaced_and_the_user_told(tiny_checkpoint):
    score = melody_score()
    full = score.pitches.copy()
    full[1:] = np.where(score.pitches[0] >= 0, score.pitches[0] - np.array([[5], [12], [24]]), -1)
    result = accompany(Score(full), variants=1, seed=3, checkpoint=tiny_checkpoint)
    assert result.messages[0] == "the alto, tenor and bass already written were replaced"
    clean = accompany(score, variants=1, seed=3, checkpoint=tiny_checkpoint)
    assert np.array_equal(result.variants[0].score.pitches, clean.variants[0].score.pitches)
