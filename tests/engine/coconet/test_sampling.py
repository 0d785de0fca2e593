"""The sampler pieces and loops, with a tiny real Coconet."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.coconet.model import Coconet, CoconetConfig
from engine.coconet.sampling import (
    AncestralSampler,
    BernoulliMasker,
    GibbsSampler,
    IndependentSampler,
    VariantRandom,
    YaoSchedule,
    cooled,
    make_sampler,
    mean_over,
    pseudo_nll,
)
from engine.music.pianoroll import NUM_CLASSES

T = 12


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Coconet(CoconetConfig(depth=2, width=8)).eval()


def random_input(seed: int, density: float = 0.5):
    g = torch.Generator().manual_seed(seed)
    classes = torch.randint(0, NUM_CLASSES, (4, T), generator=g)
    mask = torch.rand(4, T, generator=g) < density
    mask[0, 0] = True  # never empty
    return classes, mask


# --- pieces ---------------------------------------------------------------------------------


def test_yao_schedule_values_at_known_steps():
    s = YaoSchedule()
    assert s(0, 96) == pytest.approx(0.9)
    assert s(48, 96) == pytest.approx(0.9 - 0.8 * 48 / (0.7 * 96))
    assert s(math.ceil(0.7 * 96), 96) == pytest.approx(0.1)  # floor reached at alpha * n
    assert s(95, 96) == pytest.approx(0.1)
    values = [s(i, 96) for i in range(96)]
    assert values == sorted(values, reverse=True)
    assert YaoSchedule(pmin=0.2, pmax=0.5, alpha=1.0)(5, 10) == pytest.approx(0.35)


def test_pieces_have_useful_reprs():
    text = repr(GibbsSampler(24, sampler=IndependentSampler(0.5)))
    assert "steps=24" in text and "pmin=0.1" in text and "alpha=0.7" in text
    assert "temperature=0.5" in text
    assert "steps=8" in repr(AncestralSampler(8))
    assert "seeds=[3, 4]" in repr(VariantRandom([3, 4]))


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        YaoSchedule(pmin=0.5, pmax=0.2)
    with pytest.raises(ValueError):
        IndependentSampler(0.0)
    with pytest.raises(ValueError):
        make_sampler("metropolis", 10, 1.0)
    with pytest.raises(ValueError):
        AncestralSampler(0)


def test_masker_only_picks_inside_the_outer_mask():
    outer = torch.rand(2, 4, T) < 0.5
    u = torch.rand(2, 4, T)
    assert not (BernoulliMasker()(outer, 0.7, u) & ~outer).any()
    assert torch.equal(BernoulliMasker()(outer, 1.0, u), outer)


def test_independent_sampler_follows_the_tempered_softmax():
    logits = torch.tensor([0.0, math.log(3.0)]).expand(20000, 2)
    drawn = IndependentSampler(1.0)(logits, torch.rand(20000, 2))
    assert drawn.float().mean().item() == pytest.approx(0.75, abs=0.02)
    sharp = IndependentSampler(0.25)(logits, torch.rand(20000, 2))
    assert sharp.float().mean().item() == pytest.approx(81 / 82, abs=0.01)


def test_cooling_goes_geometrically_from_the_temperature_to_its_end_where_the_schedule_does():
    assert cooled(0.99, None, 50, 96, 0.7) == 0.99
    assert cooled(1.0, 0.25, 0, 100, 0.5) == pytest.approx(1.0)
    assert cooled(1.0, 0.25, 25, 100, 0.5) == pytest.approx(0.5)  # halfway in log-temperature
    assert cooled(1.0, 0.25, 50, 100, 0.5) == pytest.approx(0.25)  # pmin reached: cold from here
    assert cooled(1.0, 0.25, 99, 100, 0.5) == pytest.approx(0.25)
    logits = torch.tensor([0.0, math.log(3.0)]).expand(20000, 2)
    drawn = IndependentSampler(1.0)(logits, torch.rand(20000, 2), 0.25)  # a pass's own temperature
    assert drawn.float().mean().item() == pytest.approx(81 / 82, abs=0.01)


def test_a_cooling_gibbs_run_draws_the_same_numbers_but_sharper_notes(model):
    classes, mask = random_input(4, density=1.0)
    plain = GibbsSampler(12).run(model, classes, mask, [5, 6])
    same = GibbsSampler(12, cool=0.99).run(model, classes, mask, [5, 6])  # no cooling at all
    cold = GibbsSampler(12, cool=0.05).run(model, classes, mask, [5, 6])
    assert torch.equal(plain.classes, same.classes)
    assert not torch.equal(plain.classes, cold.classes)
    # Near zero temperature the late passes keep the likelier notes: lower drawn NLL.
    assert mean_over(cold.cell_nll, mask).mean() < mean_over(plain.cell_nll, mask).mean()
    with pytest.raises(ValueError, match="cool"):
        GibbsSampler(4, cool=0.0)


def test_variant_random_depends_on_its_own_seed_only():
    a = VariantRandom([5, 6]).uniform(3)
    b = VariantRandom([6]).uniform(3)
    assert torch.equal(a[1], b[0]) and not torch.equal(a[0], a[1])


# --- loops ----------------------------------------------------------------------------------


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), steps=st.integers(0, 6), ancestral=st.booleans())
def test_only_masked_cells_change_and_classes_stay_valid(model, seed, steps, ancestral):
    classes, mask = random_input(seed)
    sampler = AncestralSampler(max(1, steps)) if ancestral else GibbsSampler(steps)
    draw = sampler.run(model, classes, mask, [seed, seed + 1])
    out = draw.classes
    assert out.shape == (2, 4, T)
    assert torch.equal(out[:, ~mask], classes[~mask].expand(2, -1))
    assert out.min() >= 0 and out.max() < NUM_CLASSES
    assert (draw.cell_nll[:, ~mask] == 0).all() and (draw.cell_nll[:, mask] > 0).all()


@pytest.mark.parametrize("name", ["gibbs", "ancestral"])
def test_same_seed_same_music_and_seeds_differ(model, name):
    classes, mask = random_input(1, density=0.9)
    sampler = make_sampler(name, 5, 0.99)
    a = sampler.run(model, classes, mask, [7, 8]).classes
    b = sampler.run(model, classes, mask, [7, 8]).classes
    alone = sampler.run(model, classes, mask, [8]).classes
    assert torch.equal(a, b)
    assert torch.equal(a[1], alone[0])  # a variant's music depends on its seed, not its batch
    assert not torch.equal(a[0], a[1])


def test_gibbs_reports_every_pass_and_rewrites_fewer_cells_late(model):
    classes, mask = random_input(2, density=1.0)
    seen = []
    GibbsSampler(20).run(model, classes, mask, [0], on_step=seen.append)
    assert [s.step for s in seen] == list(range(1, 22)) and {s.total for s in seen} == {21}
    assert torch.equal(seen[0].changed[0], mask)  # the fill pass writes every masked cell
    early = sum(int(s.changed.sum()) for s in seen[1:6])
    late = sum(int(s.changed.sum()) for s in seen[-5:])
    assert early > late > 0


def test_polish_mode_skips_the_fill_pass(model):
    classes, mask = random_input(3)
    seen = []
    GibbsSampler(4).run(model, classes, mask, [0], fill=False, on_step=seen.append)
    assert len(seen) == 4
    assert torch.equal(GibbsSampler(0).run(model, classes, mask, [0], fill=False).classes[0], classes)


def test_ancestral_draws_each_masked_cell_exactly_once(model):
    classes, mask = random_input(4, density=0.6)
    seen = []
    sampler = AncestralSampler(steps=7)
    sampler.run(model, classes, mask, [0, 1], on_step=lambda s: seen.append(s.changed.clone()))
    cells = int(mask.sum())
    assert len(seen) == sampler.passes(cells) == math.ceil(cells / math.ceil(cells / 7))
    counts = torch.stack(seen).sum(0)
    assert torch.equal(counts, mask.expand(2, -1, -1).long())


@pytest.mark.parametrize("name", ["gibbs", "ancestral"])
def test_cancel_stops_within_one_pass(model, name):
    classes, mask = random_input(5)
    passes = []
    result = make_sampler(name, 10, 1.0).run(
        model, classes, mask, [0],
        on_step=lambda s: passes.append(s.step), cancel=lambda: len(passes) >= 3,
    )  # fmt: skip
    assert result is None and passes == [1, 2, 3]


def test_pseudo_nll_with_one_cell_per_group_is_exact(model):
    classes, mask = random_input(6, density=0.2)
    batch = classes.unsqueeze(0)
    got = pseudo_nll(model, batch, mask, groups=int(mask.sum()))
    with torch.inference_mode():
        for v, t in mask.nonzero().tolist():
            single = torch.zeros(1, 4, T, dtype=torch.bool)
            single[0, v, t] = True
            logp = torch.log_softmax(model(batch, single)[0, v, t], -1)[classes[v, t]]
            assert got[0, v, t].item() == pytest.approx(-logp.item(), rel=1e-4)
    assert (got[0][~mask] == 0).all()
    assert mean_over(got, mask).item() == pytest.approx(got[0][mask].mean().item())
