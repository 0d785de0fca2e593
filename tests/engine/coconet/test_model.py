import pytest
import torch

from engine.coconet.model import Coconet, CoconetConfig, config_from_dict
from engine.music.pianoroll import NUM_CLASSES, NUM_PITCHES

CONFIGS = [
    CoconetConfig(depth=2, width=8),
    CoconetConfig(depth=4, width=8, dilation=(1, 2)),
    CoconetConfig(depth=4, width=8, dilation=(1, 3), dilate_pitch=True),
    CoconetConfig(depth=2, width=8, separable=True, dilation=(2,)),
    CoconetConfig(depth=2, width=6, kernel=5, silence_class=False),
]


def trained_stats(model):
    """Give batch norm non-trivial running statistics and affine parameters."""
    torch.manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model.eval()


def random_input(batch, steps, classes=NUM_CLASSES, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randint(0, classes, (batch, 4, steps), generator=gen),
            torch.rand(batch, 4, steps, generator=gen) < 0.5)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.depth}x{c.width}-{c.dilation}")
@pytest.mark.parametrize("batch,steps", [(1, 1), (3, 7), (2, 33)])
def test_any_length_and_batch(config, batch, steps):
    model = Coconet(config).eval()
    classes, mask = random_input(batch, steps, config.num_classes)
    logits = model(classes, mask)
    assert logits.shape == (batch, 4, steps, config.num_classes)
    assert torch.isfinite(logits).all()


def test_num_classes_follows_silence_option():
    assert CoconetConfig().num_classes == NUM_CLASSES
    assert CoconetConfig(silence_class=False).num_classes == NUM_PITCHES


def test_masked_content_is_invisible():
    model = trained_stats(Coconet(CoconetConfig(depth=2, width=8)))
    classes, mask = random_input(2, 9)
    other = torch.where(mask, (classes + 5) % NUM_CLASSES, classes)
    assert torch.equal(model(classes, mask), model(other, mask))
    # ... while known content does matter.
    other = torch.where(~mask, (classes + 5) % NUM_CLASSES, classes)
    assert not torch.allclose(model(classes, mask), model(other, mask))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.depth}x{c.width}-{c.dilation}")
def test_fused_inference_equals_eval(config):
    model = trained_stats(Coconet(config))
    fused = model.fuse_for_inference()
    assert fused.fused and not any(p.requires_grad for p in fused.parameters())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    classes, mask = random_input(3, 11, config.num_classes)
    with torch.inference_mode():
        assert torch.allclose(model(classes, mask), fused(classes, mask), atol=1e-5, rtol=1e-5)
    assert model.training is False and any(isinstance(m, torch.nn.BatchNorm2d)
                                           for m in model.modules())  # original untouched


def test_config_validation_and_round_trip():
    with pytest.raises(ValueError):
        CoconetConfig(depth=3)
    with pytest.raises(ValueError):
        CoconetConfig(kernel=4)
    with pytest.raises(ValueError):
        CoconetConfig(dilation=(0,))
    config = CoconetConfig(depth=4, width=8, dilation=(1, 2), separable=True)
    assert config_from_dict(config.to_dict()) == config


def test_inference_path_equals_training_path():
    model = trained_stats(Coconet(CoconetConfig(depth=4, width=8, dilation=(1, 2))))
    classes, mask = random_input(3, 1000)  # long enough for the one-example-at-a-time path
    with torch.no_grad():
        fast = model.fuse_for_inference()(classes, mask)
    with torch.enable_grad():
        slow = model(classes, mask)
    assert fast.is_contiguous() and torch.allclose(fast, slow, atol=1e-5)


@pytest.mark.parametrize("span", [(0, 5), (20, 28), (40, 48), (47, 48), (0, 48)])
def test_a_span_gives_the_whole_pass_logits_on_its_steps_and_zero_elsewhere(span):
    torch.manual_seed(3)
    model = Coconet(CoconetConfig(depth=4, width=8, dilation=(1, 2, 4), cond_planes=2)).eval()
    model = model.fuse_for_inference()
    classes = torch.randint(0, model.config.num_classes, (3, 4, 48))
    mask = torch.rand(3, 4, 48) < 0.5
    cond = torch.rand(1, 2, 48, model.config.num_classes)
    with torch.inference_mode():
        whole = model(classes, mask, cond)
        part = model(classes, mask, cond, span=span)
    lo, hi = span
    assert torch.allclose(part[:, :, lo:hi], whole[:, :, lo:hi], atol=1e-5)
    outside = torch.ones(48, dtype=torch.bool)
    outside[lo:hi] = False
    assert (part[:, :, outside] == 0).all()


def test_run_net_asks_for_the_span_of_the_wanted_cells_only():
    from engine.coconet.rests import GuardedModel
    from engine.coconet.window import run_net, span_of

    torch.manual_seed(4)
    model = Coconet(CoconetConfig(depth=2, width=8, dilation=(1, 2))).eval()
    classes = torch.randint(0, model.config.num_classes, (2, 4, 64))
    mask = torch.zeros(2, 4, 64, dtype=torch.bool)
    mask[0, 1, 30:34] = mask[1, 2, 36] = True
    assert span_of(mask) == (30, 37) and span_of(torch.ones(4, 64, dtype=torch.bool)) is None
    assert span_of(mask, reach=42) is None  # the pyramid would cost about (7 + 42) / 64 of a pass
    with torch.inference_mode():
        for net in (model, GuardedModel(model)):
            whole = run_net(net, classes, mask)
            part = run_net(net, classes, mask, wanted=mask)
            assert torch.allclose(part[mask], whole[mask], atol=1e-5)
            assert (part[..., :30, :] == 0).all()


@pytest.mark.parametrize("config", CONFIGS)
def test_a_span_matches_the_whole_pass_for_every_kind_of_net(config):
    model = trained_stats(Coconet(config))  # batch norm not folded: the span path applies it too
    classes, mask = random_input(2, 40, config.num_classes)
    with torch.inference_mode():
        whole = model(classes, mask)
        for lo, hi in ((0, 3), (17, 22), (39, 40)):
            part = model(classes, mask, span=(lo, hi))
            assert torch.allclose(part[:, :, lo:hi], whole[:, :, lo:hi], atol=1e-5)
