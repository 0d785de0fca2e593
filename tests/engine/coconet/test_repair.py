"""Voice-leading repair with a tiny real Coconet: what it may change, and that it only ever helps."""

import numpy as np
import pytest
import torch

from engine.coconet.composer import Composer
from engine.coconet.masks import masked_nll, orderless_mask
from engine.coconet.model import Coconet, CoconetConfig
from engine.coconet.repair import Repairer, _runs, flagged_region
from engine.coconet.window import receptive_field
from engine.errors import ScoreError
from engine.music.counterpoint import check_score
from engine.music.pianoroll import to_classes, to_pitches
from engine.music.score import Score


@pytest.fixture(scope="module")
def composer():
    torch.manual_seed(0)
    return Composer(model=Coconet(CoconetConfig(depth=2, width=8)), threads=1)


def octaves_draft() -> Score:
    """Soprano and bass in parallel octaves on every quarter; alto and tenor hold fitting notes."""
    soprano = [72, 74, 76, 77, 79, 77, 76, 74]
    rows = [soprano, [67] * 8, [60] * 8, [p - 24 for p in soprano]]
    return Score(np.repeat(np.array(rows, dtype=np.int16), 4, axis=1))


def lower_three(score: Score) -> np.ndarray:
    mask = np.zeros(score.pitches.shape, dtype=bool)
    mask[1:] = True
    return mask


def test_note_span_finds_the_whole_note():
    score = Score(np.array([[60] * 4 + [62] * 4 + [-1] * 2 + [62] * 2] * 4, dtype=np.int16))
    assert score.note_span(0, 5) == (4, 8)
    assert score.note_span(0, 0) == (0, 4)
    assert score.note_span(0, 8) == (8, 9)  # a rest: just the step
    assert score.note_span(0, 11) == (10, 12)


def test_region_covers_both_sonorities_of_a_parallel_in_generated_voices_only():
    score = octaves_draft()
    mask = lower_three(score)
    report = check_score(score)
    octaves = [f for f in report.findings if f.kind == "parallel_octaves"]
    assert len(octaves) == 7 and all(f.voices == (0, 3) for f in octaves)
    first = octaves[0]  # quarters 0 -> 1: bass steps 0..7, widened by 2 (margin)
    region = flagged_region(score, mask, type(report)([first], report.quarter_notes), margin=2)
    assert not region[0].any() and not region[1].any() and not region[2].any()  # soprano is given
    assert np.flatnonzero(region[3]).tolist() == list(range(10))
    assert not flagged_region(score, np.zeros_like(mask), report).any()


def pedal_bass_model() -> Coconet:
    """A tiny Coconet trained for a few steps on pieces whose bass holds C3 under a moving soprano:
    its proposals for the bass are C3, which turns parallel octaves into oblique motion."""
    torch.manual_seed(0)
    model = Coconet(CoconetConfig(depth=2, width=8))
    generator = torch.Generator().manual_seed(0)
    melodies = torch.randint(60, 80, (16, 8), generator=generator).repeat_interleave(4, dim=1)
    pitches = torch.stack([melodies, torch.full_like(melodies, 67), torch.full_like(melodies, 60),
                           torch.full_like(melodies, 48)], dim=1)
    classes = torch.from_numpy(to_classes(pitches.numpy()))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(60):
        mask = orderless_mask(16, 32, generator)
        loss = masked_nll(model(classes, mask), classes, mask).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_repair_removes_parallels_and_never_adds_findings():
    composer = Composer(model=pedal_bass_model(), threads=1)
    draft = octaves_draft()
    mask = lower_three(draft)
    before = len(check_score(draft).findings)
    result = composer.polish(draft, mask, steps=0, variants=3, seed=5, repair=8)
    for variant in result.variants:
        out = variant.score
        assert np.array_equal(out.pitches[0], draft.pitches[0])  # the kept voice is untouched
        after = check_score(out)
        assert len(after.findings) < before
        assert after.counts["parallel_octaves"] < 7


def test_repair_only_ever_helps_a_gibbs_draft(composer):
    melody = octaves_draft()
    plain = composer.harmonize(melody, variants=3, steps=4, seed=11)
    fixed = composer.harmonize(melody, variants=3, steps=4, seed=11, repair=4)
    by_seed = {v.seed: len(check_score(v.score).findings) for v in plain.variants}
    for variant in fixed.variants:
        assert len(check_score(variant.score).findings) <= by_seed[variant.seed]
        assert np.array_equal(variant.score.pitches[0], melody.pitches[0])


def test_same_seed_same_music_whatever_the_batch(composer):
    melody = octaves_draft()
    alone = composer.harmonize(melody, variants=1, steps=4, seed=21, repair=3).variants[0]
    batch = composer.harmonize(melody, variants=3, steps=4, seed=20, repair=3).variants
    twin = next(v for v in batch if v.seed == 21)
    assert np.array_equal(alone.score.pitches, twin.score.pitches)


def proposal_rounds(composer, monkeypatch, **options) -> list[tuple[list[int], torch.Tensor]]:
    """(variants proposed for, drafts before) of every repair round of one harmonize."""
    rounds = []
    propose = Repairer._propose

    def spy(self, model, x, nll, region, index, *args, **kwargs):
        rounds.append(([int(k) for k in index], x.clone()))
        return propose(self, model, x, nll, region, index, *args, **kwargs)

    monkeypatch.setattr(Repairer, "_propose", spy)
    composer.harmonize(octaves_draft(), variants=3, steps=4, seed=11, repair=6, **options)
    monkeypatch.setattr(Repairer, "_propose", propose)
    return rounds


def retried_after(rounds, misses: int) -> list[tuple[int, int]]:
    """(round, variant) where a variant had `misses` proposals in a row not taken (its draft did
    not change), from round `round` on, and still got another round."""
    found = []
    for r in range(len(rounds) - misses):
        span = rounds[r:r + misses + 1]
        for k in span[-1][0]:
            if all(k in index for index, _ in span) and all(
                    torch.equal(span[0][1][k], x[k]) for _, x in span[1:]):
                found.append((r, k))
    return found


def test_a_variant_leaves_the_repair_after_its_misses(composer, monkeypatch):
    unlimited = proposal_rounds(composer, monkeypatch)
    assert retried_after(unlimited, 1) and retried_after(unlimited, 2)  # no limit: tries again
    once = proposal_rounds(composer, monkeypatch, repair_misses=1)
    assert retried_after(once, 1) == []
    assert sum(len(i) for i, _ in once) < sum(len(i) for i, _ in unlimited)
    assert retried_after(proposal_rounds(composer, monkeypatch, repair_misses=2), 2) == []
    melody = octaves_draft()
    alone = composer.harmonize(melody, variants=1, steps=4, seed=12, repair=6, repair_misses=1)
    batch = composer.harmonize(melody, variants=3, steps=4, seed=11, repair=6, repair_misses=1)
    twin = next(v for v in batch.variants if v.seed == 12)
    assert np.array_equal(alone.variants[0].score.pitches, twin.score.pitches)
    with pytest.raises(ScoreError, match="repair misses must be 1 or more"):
        composer.harmonize(melody, repair=2, repair_misses=0)


def test_progress_counts_the_repair_passes_and_cancel_stops_them(composer):
    melody = octaves_draft()
    seen = []
    composer.harmonize(melody, variants=2, steps=3, seed=1, repair=2, progress=seen.append)
    steps = [p.step for p in seen]
    assert steps == sorted(steps) and steps[:4] == [1, 2, 3, 4]
    assert all(p.total == 4 + 2 * Repairer().passes for p in seen)
    assert len(steps) > 4  # the draft had findings, so repair passes were reported
    before = melody.pitches.copy()
    calls = []
    result = composer.harmonize(melody, variants=2, steps=3, seed=1, repair=2,
                                progress=lambda p: calls.append(p.step),
                                cancel=lambda: len(calls) >= 6)
    assert result.cancelled and result.variants == [] and calls == list(range(1, 7))
    assert np.array_equal(melody.pitches, before)
    seen.clear()
    composer.harmonize(melody, variants=2, steps=3, seed=1, repair=2, repair_passes=5,
                       progress=seen.append)
    assert all(p.total == 4 + 2 * 5 for p in seen)  # each proposal runs the passes asked for
    assert max(p.step for p in seen) > 4


def test_a_repair_context_as_wide_as_the_receptive_field_is_the_exact_repair():
    composer = Composer(model=pedal_bass_model(), threads=1)
    draft = octaves_draft()
    options = {"steps": 0, "variants": 2, "seed": 5, "repair": 4}
    exact = composer.polish(draft, lower_three(draft), **options)
    wide = composer.polish(draft, lower_three(draft), repair_context=receptive_field(
        composer.model.config), **options)
    narrow = composer.polish(draft, lower_three(draft), repair_context=1, **options)
    for a, b in zip(exact.variants, wide.variants):
        assert np.array_equal(a.score.pitches, b.score.pitches) and a.nll == b.nll
    for variant in narrow.variants:  # a narrower context still only ever helps
        assert len(check_score(variant.score).findings) < len(check_score(draft).findings)


def test_a_narrow_context_crops_each_proposal_to_its_region_and_that_context(monkeypatch):
    from engine.coconet import repair

    seen = []
    model_window = repair.model_window

    def spy(model, region, enabled=True, radius=None):
        window = model_window(model, region, enabled, radius)
        active = region.reshape(-1, region.shape[-1]).any(0)
        seen.append((active.nonzero().flatten(), radius, window))
        return window

    monkeypatch.setattr(repair, "model_window", spy)
    composer = Composer(model=pedal_bass_model(), threads=1)
    pitches = octaves_draft().pitches.copy()
    pitches[3, 8:] = 55  # a held bass: parallel octaves only in the first two beats
    draft = Score(pitches)
    composer.polish(draft, lower_three(draft), steps=0, variants=1, seed=5, repair=2,
                    repair_context=3)
    assert seen and all(radius == 3 for _, radius, _ in seen)
    for active, _, window in seen:
        assert window is not None and window.width < draft.num_steps
        distance = (window.columns.view(-1, 1) - active.view(1, -1)).abs().min(1).values
        assert int(distance.max()) <= 3  # the region's steps and 3 steps each side, no more


def test_bad_repair_values_are_refused(composer):
    with pytest.raises(ScoreError, match="repair"):
        composer.harmonize(octaves_draft(), repair=-1)
    with pytest.raises(ScoreError, match="repair passes must be in range 1"):
        composer.harmonize(octaves_draft(), repair=2, repair_passes=0)
    with pytest.raises(ValueError, match="passes"):
        Repairer(passes=0)
    with pytest.raises(ScoreError, match="repair context"):
        composer.harmonize(octaves_draft(), repair=2, repair_context=-1)
    with pytest.raises(ScoreError, match="cooling"):
        composer.harmonize(octaves_draft(), cool=0)
    with pytest.raises(ValueError, match="context"):
        Repairer(context=-2)


def test_a_rejected_proposal_keeps_the_pieces_that_help():
    """A proposal that clears the parallel octaves of the first half but wrecks the second half
    has more findings in all; piece by piece, its first half is kept and its second is not."""
    soprano = [72, 74, 76, 77, 79, 77, 76, 74] * 2
    rows = [soprano, [67] * 16, [60] * 16, [p - 24 for p in soprano]]
    draft = Score(np.repeat(np.array(rows, dtype=np.int16), 4, axis=1))
    proposal = draft.pitches.copy()
    proposal[3, :32] = 48  # a pedal C3: oblique motion, no octaves
    proposal[3, 36:] = np.tile([70, 50], 14)  # after an untouched beat: above alto and tenor
    x = torch.from_numpy(to_classes(draft.pitches))[None]
    y = torch.from_numpy(to_classes(proposal))[None]

    def to_scores(classes):
        return [Score(to_pitches(c.numpy())) for c in classes]

    before = len(check_score(draft).findings)
    assert len(check_score(Score(proposal)).findings) >= before  # the whole is rejected
    nll, y_nll = torch.zeros(x.shape), torch.ones(x.shape)
    scores, reports = to_scores(x), [check_score(draft)]
    assert Repairer()._take_pieces(0, x, nll, y, y_nll, scores, reports, to_scores)
    kept = to_pitches(x[0].numpy())
    assert (kept[3, :32] == 48).all() and np.array_equal(kept[3, 32:], draft.pitches[3, 32:])
    assert (nll[0, 3, 4:32] == 1).all() and (nll[0, :, 32:] == 0).all()  # drawn NLLs follow
    assert len(reports[0].findings) < before and scores[0] is not None
    assert not Repairer(piecewise=False).piecewise
    with pytest.raises(ValueError, match="gap"):
        Repairer(gap=0)


def test_pieces_are_runs_of_changed_steps_split_by_a_gap():
    changed = torch.zeros(20, dtype=torch.bool)
    changed[[1, 2, 5, 12, 13]] = True
    assert _runs(changed, 4) == [(1, 6), (12, 14)]
    assert _runs(changed, 1) == [(1, 3), (5, 6), (12, 14)]
    assert _runs(torch.zeros(5, dtype=torch.bool), 4) == []


def test_which_net_draws_the_repair_proposals(tmp_path):
    """The fast net where it pays (the standard shipped model sampling in fp32), else the same."""
    fp32 = Composer(precision="fp32", threads=1)
    assert fp32.repair_model == "fast" and fp32.repair_net.config.inner == 16
    assert fp32.model.config.inner == 0
    assert Composer(precision="bf16").repair_model == "same"
    assert Composer(precision="fp32", repair_model="same").repair_model == "same"
    from engine.coconet.loading import DEFAULT_COCONET, FAST_COCONET

    assert Composer(str(DEFAULT_COCONET), precision="fp32").repair_model == "fast"  # by its path
    other = tmp_path / "other.pt"
    other.write_bytes(DEFAULT_COCONET.read_bytes())
    assert Composer(other, precision="fp32").repair_model == "same"  # another file: as asked
    fast = Composer(FAST_COCONET, precision="fp32", threads=1)
    assert fast.repair_model == "same" and fast.repair_net is fast.sampling_model
    tiny = Composer(model=Coconet(CoconetConfig(depth=2, width=8)), precision="fp32")
    assert tiny.repair_model == "same"
    with pytest.raises(ScoreError, match="repair model must be one of auto, same, fast"):
        Composer(repair_model="teacher")


def test_fast_repair_proposals_change_only_the_repair_and_never_add_findings():
    """Same seed: the Gibbs draft is the standard net's either way; the repair then differs with
    the proposing net, only ever in generated cells, and never leaves more findings."""
    melody = Score(np.repeat(np.array([[72, 74, 76, 77, 79, 77, 76, 74, 72, 71, 72, 74, 76, 74, 72,
                                        72]] * 4, dtype=np.int16), 4, axis=1))
    mask = lower_three(melody)
    runs = {}
    for name in ("same", "fast"):
        composer = Composer(precision="fp32", threads=1, repair_model=name)
        draft = composer.infill(melody, mask, variants=2, steps=8, seed=4, repair=0)
        fixed = composer.infill(melody, mask, variants=2, steps=8, seed=4, repair=3)
        runs[name] = (draft, fixed)
        for before, after in zip(sorted(draft.variants, key=lambda v: v.seed),
                                 sorted(fixed.variants, key=lambda v: v.seed), strict=True):
            assert np.array_equal(after.score.pitches[0], melody.pitches[0])
            assert len(check_score(after.score).findings) <= len(check_score(before.score).findings)
    drafts = [sorted(runs[n][0].variants, key=lambda v: v.seed) for n in ("same", "fast")]
    assert all(np.array_equal(a.score.pitches, b.score.pitches) for a, b in zip(*drafts, strict=True))
    fixed = [sorted(runs[n][1].variants, key=lambda v: v.seed) for n in ("same", "fast")]
    assert any(not np.array_equal(a.score.pitches, b.score.pitches) for a, b in zip(*fixed, strict=True))
