"""Windowed generation gives what the whole piece gives: receptive field, samplers, scoring."""

import dataclasses

import numpy as np
import pytest
import torch

from engine.coconet.model import Coconet, CoconetConfig
from engine.coconet.sampling import AncestralSampler, GibbsSampler, IndependentSampler, pseudo_nll
from engine.coconet.window import model_window, receptive_field, spans, window_for
from engine.music.pianoroll import NUM_CLASSES

CONFIG = CoconetConfig(depth=4, width=8, dilation=(1, 2))  # radius 1 * (2 + 1+2+1+2) = 8
T = 80


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = Coconet(CONFIG).eval()
    with torch.no_grad():  # batch norm statistics that are not the identity
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return net


def piece(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, NUM_CLASSES, (4, T), generator=g)


def region(*ranges, voices=(1, 2)):
    mask = torch.zeros(4, T, dtype=torch.bool)
    for start, end in ranges:
        for v in voices:
            mask[v, start:end] = True
    return mask


REGIONS = {
    "middle": region((36, 44)),
    "start": region((0, 6)),
    "end": region((T - 5, T)),
    "two": region((10, 14), (50, 60)),
    "ragged": region((20, 23), voices=(0,)) | region((24, 30), voices=(3,)),
}


def test_receptive_field_of_known_configs():
    assert receptive_field(CONFIG) == 8
    assert receptive_field(CoconetConfig(depth=16, width=32, dilation=(1, 2, 4, 8))) == 62
    assert receptive_field(CoconetConfig(depth=2, kernel=5)) == 2 * 4


@pytest.mark.parametrize("side", [-1, 1])
def test_receptive_field_is_exact(model, side):
    classes, mask = piece(1).unsqueeze(0), torch.zeros(1, 4, T, dtype=torch.bool)
    radius, at = receptive_field(CONFIG), 40

    def logits_at(step):
        changed = classes.clone()
        changed[0, :, step] = (changed[0, :, step] + 7) % NUM_CLASSES
        with torch.inference_mode():
            return model(changed, mask)[0, :, at]

    with torch.inference_mode():
        base = model(classes, mask)[0, :, at]
    assert torch.equal(logits_at(at + side * (radius + 1)), base)  # just outside: no effect
    assert not torch.allclose(logits_at(at + side * radius), base)  # the edge: an effect


def test_windows_cover_regions_plus_radius_and_merge():
    assert spans(torch.tensor([0, 1, 1, 0, 1, 0], dtype=torch.bool)) == [(1, 3), (4, 5)]
    active = torch.zeros(100, dtype=torch.bool)
    active[40:45] = True
    active[90:92] = True
    window = window_for(active, 8)
    assert window.columns.tolist() == list(range(32, 53)) + list(range(82, 100))
    active[50:85] = True  # the gap closes: one run
    assert window_for(active, 8).columns.tolist() == list(range(32, 100))
    assert window_for(torch.ones(30, dtype=torch.bool), 8) is None  # the whole piece anyway


@pytest.mark.parametrize("name", sorted(REGIONS))
@pytest.mark.parametrize("patience", [None, 2])
def test_gibbs_window_draws_what_the_whole_piece_draws(model, name, patience):
    mask, classes = REGIONS[name], piece(2)
    assert model_window(model, mask) is not None  # the test really runs on a window
    sampler = GibbsSampler(12, patience=patience)
    seen = []
    windowed = sampler.run(model, classes, mask, [5, 6, 7], window=True,
                           on_step=lambda info: seen.append(info.classes.shape))
    whole = sampler.run(model, classes, mask, [5, 6, 7], window=False)
    assert torch.equal(windowed.classes, whole.classes)
    assert torch.allclose(windowed.cell_nll, whole.cell_nll, atol=1e-4)
    assert windowed.passes == whole.passes
    assert set(seen) == {(3, 4, T)}  # progress always sees the whole piece
    assert torch.equal(windowed.classes[:, ~mask], classes[~mask].expand(3, -1))


@pytest.mark.parametrize("name", ["middle", "two", "end"])
def test_ancestral_window_draws_what_the_whole_piece_draws(model, name):
    mask, classes = REGIONS[name], piece(3)
    sampler = AncestralSampler(10)
    windowed = sampler.run(model, classes, mask, [1, 2], window=True)
    whole = sampler.run(model, classes, mask, [1, 2], window=False)
    assert torch.equal(windowed.classes, whole.classes)
    assert torch.allclose(windowed.cell_nll, whole.cell_nll, atol=1e-4)


@pytest.mark.parametrize("name", sorted(REGIONS))
def test_pseudo_nll_on_a_window_equals_the_whole(model, name):
    mask = REGIONS[name]
    classes = torch.stack([piece(4), piece(5)])
    windowed = pseudo_nll(model, classes, mask, window=True)
    whole = pseudo_nll(model, classes, mask, window=False)
    assert torch.allclose(windowed, whole, atol=1e-4)
    assert (whole[:, mask] > 0).all() and (whole[:, ~mask] == 0).all()


def test_pseudo_nll_of_a_region_equals_those_cells_of_the_whole_map(model):
    everything = torch.ones(4, T, dtype=torch.bool)
    classes = piece(6).unsqueeze(0)
    part = region((30, 40), voices=range(4))
    whole = pseudo_nll(model, classes, everything, window=False)
    only = pseudo_nll(model, classes, everything, region=part)
    assert torch.allclose(only[:, part], whole[:, part], atol=1e-4)
    assert (only[:, ~part] == 0).all()


def test_the_window_crops_conditioning_planes_like_the_notes():
    if "cond_planes" not in CoconetConfig.__dataclass_fields__:
        pytest.skip("this model has no conditioning planes")
    torch.manual_seed(1)
    net = Coconet(dataclasses.replace(CONFIG, cond_planes=2)).eval()
    cond = (torch.rand(1, 2, T, net.config.num_classes) < 0.3).float()
    mask, classes = REGIONS["two"], piece(7)
    sampler = GibbsSampler(8)
    windowed = sampler.run(net, classes, mask, [3], cond=cond, window=True)
    whole = sampler.run(net, classes, mask, [3], cond=cond, window=False)
    assert torch.equal(windowed.classes, whole.classes)
    plain = sampler.run(net, classes, mask, [3], window=False)
    assert not torch.equal(plain.cell_nll, whole.cell_nll)  # the planes reach the network


def test_early_stop_ends_quiet_variants_and_keeps_them_independent(model):
    mask, classes = region((36, 40), voices=(1,)), piece(8)
    long = GibbsSampler(200, sampler=IndependentSampler(0.05), patience=3)  # cold: it settles
    together = long.run(model, classes, mask, [11, 12])
    alone = long.run(model, classes, mask, [12])
    assert together.passes < 201  # stopped before the planned passes
    assert torch.equal(together.classes[1], alone.classes[0])  # its seed alone decides
    assert np.array_equal(together.classes[0][~mask].numpy(), classes[~mask].numpy())
