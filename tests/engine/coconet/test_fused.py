"""Sampling on oneDNN's fused kernels (engine/coconet/fused.py) computes what the model computes."""

import numpy as np
import pytest
import torch

from engine.coconet.composer import Composer
from engine.coconet.fused import FusedNet, fused_net, kernels_available
from engine.coconet.model import Coconet, CoconetConfig
from engine.coconet.structure import NUM_PLANES
from engine.music.score import Score

pytestmark = pytest.mark.skipif(not kernels_available(), reason="torch without oneDNN kernels")

CONFIG = CoconetConfig(depth=4, width=8, dilation=(1, 2), cond_planes=NUM_PLANES)  # reach 8


def folded(config=CONFIG, seed=0):
    torch.manual_seed(seed)
    model = Coconet(config)
    for module in model.modules():  # batch norm with statistics that are not the identity
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval().fuse_for_inference()


def inputs(batch=2, steps=40, seed=1):
    generator = torch.Generator().manual_seed(seed)
    classes = torch.randint(0, CONFIG.num_classes, (batch, 4, steps), generator=generator)
    mask = torch.rand(batch, 4, steps, generator=generator) < 0.5
    cond = (torch.rand(1, CONFIG.cond_planes, steps, CONFIG.num_classes, generator=generator)
            < 0.3).float()
    return classes, mask, cond


def test_fp32_fused_kernels_give_the_models_logits():
    model = folded()
    net = fused_net(model, torch.float32)
    assert isinstance(net, FusedNet) and not net.takes_span
    for batch, steps in ((2, 40), (1, 9), (3, 64)):
        classes, mask, cond = inputs(batch, steps)
        with torch.inference_mode():
            assert torch.allclose(net(classes, mask, cond), model(classes, mask, cond), atol=1e-5)
            assert torch.allclose(net(classes, mask), model(classes, mask), atol=1e-5)


def test_bf16_fused_kernels_stay_as_close_to_fp32_as_autocast_does():
    model = folded()
    net = fused_net(model, torch.bfloat16)
    if net is None:
        pytest.skip("this CPU's oneDNN has no bf16 convolutions")
    classes, mask, cond = inputs()
    with torch.inference_mode():
        exact = model(classes, mask, cond).softmax(-1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast = model(classes, mask, cond).float().softmax(-1)
        logits = net(classes, mask, cond)
        assert logits.dtype == torch.bfloat16
        ours = logits.float().softmax(-1)
        autocast_error = (autocast - exact).abs().max().item()
        assert (ours - exact).abs().max().item() <= max(2 * autocast_error, 1e-2)


def test_nets_the_kernels_cannot_run_are_left_to_the_model():
    assert fused_net(Coconet(CONFIG).eval(), torch.float32) is None  # batch norm not folded
    separable = CoconetConfig(depth=2, width=8, separable=True)
    assert fused_net(Coconet(separable).eval().fuse_for_inference(), torch.float32) is None
    with pytest.raises(ValueError):
        FusedNet(Coconet(CONFIG).eval())


def melody(bars=4):
    pitches = np.full((4, 16 * bars), -1, dtype=np.int16)
    pitches[0] = np.tile(np.repeat([72, 74, 76, 77, 79, 77, 76, 74], 2), bars)
    return Score(pitches, key="C")


def test_the_composer_draws_the_same_music_on_the_fused_kernels(monkeypatch):
    model = folded()
    net = fused_net(model, torch.float32)  # exact in fp32, so the draws must match
    options = {"variants": 2, "steps": 12, "seed": 3, "repair": 2}
    plain = Composer(model=model, threads=1, precision="fp32")
    assert plain.sampling_model is model
    theirs = plain.harmonize(melody(), **options)
    monkeypatch.setattr(Composer, "sampling_model", property(lambda self: net))
    ours = Composer(model=model, threads=1, precision="fp32").harmonize(melody(), **options)
    for a, b in zip(ours.variants, theirs.variants):
        assert a.seed == b.seed
        assert np.array_equal(a.score.pitches, b.score.pitches)
        assert a.nll == pytest.approx(b.nll, abs=1e-5)


def test_the_composer_samples_on_the_fused_kernels_in_bf16_only():
    model = folded()
    if fused_net(model, torch.bfloat16) is None:
        pytest.skip("this CPU's oneDNN has no bf16 convolutions")
    composer = Composer(model=model, threads=1, precision="bf16")
    net = composer.sampling_model
    assert isinstance(net, FusedNet) and net.dtype == torch.bfloat16
    assert composer.sampling_model is net  # made once
    result = composer.harmonize(melody(), variants=1, steps=4, seed=0, repair=1)
    assert (result.variants[0].score.pitches[1:] >= 0).all()
    composer.precision = "fp32"
    assert composer.sampling_model is model
    unfolded = Coconet(CONFIG).eval()
    assert Composer(model=unfolded, threads=1, precision="bf16").sampling_model is unfolded


def test_in_bf16_the_ranking_scores_on_the_fused_net_within_a_thousandth_of_fp32():
    model = folded()
    if fused_net(model, torch.bfloat16) is None:
        pytest.skip("this CPU's oneDNN has no bf16 convolutions")
    fast = Composer(model=model, threads=1, precision="bf16")
    exact = Composer(model=model, threads=1, precision="fp32")
    calls = []
    forward = FusedNet.__call__
    result = None
    try:
        FusedNet.__call__ = lambda self, *a, **k: calls.append(1) or forward(self, *a, **k)
        result = fast.harmonize(melody(), variants=2, steps=4, seed=1)
        mask = np.zeros((4, melody().num_steps), dtype=bool)
        mask[1:] = True
        sampled = len(calls)
        for variant in result.variants:
            # batches round in bf16 differently from one example: the same within rounding
            assert fast.nll(variant.score, mask) == pytest.approx(variant.nll, rel=1e-3)
        assert len(calls) > sampled  # the scoring ran on the fused net
    finally:
        FusedNet.__call__ = forward
    for variant in result.variants:
        assert exact.nll(variant.score, mask) == pytest.approx(variant.nll, rel=1e-3)


def test_in_bf16_the_confidence_map_runs_on_the_fused_net_and_its_windows_match_the_whole():
    model = folded()
    if fused_net(model, torch.bfloat16) is None:
        pytest.skip("this CPU's oneDNN has no bf16 convolutions")
    score = melody(8).with_cells(np.ones((4, 128), dtype=bool), np.tile(
        np.array([[72], [67], [64], [48]], dtype=np.int16), (1, 128)))
    fast = Composer(model=model, threads=1, precision="bf16")
    exact = Composer(model=model, threads=1, precision="fp32").confidence(score)
    calls = []
    forward = FusedNet.__call__
    try:
        FusedNet.__call__ = lambda self, *a, **k: calls.append(1) or forward(self, *a, **k)
        whole = fast.confidence(score)
        part = fast.confidence(score, steps=(48, 80))
    finally:
        FusedNet.__call__ = forward
    assert calls
    assert np.abs(whole - exact).max() < 0.05
    assert np.allclose(whole[:, 48:80], part, atol=1e-3)
