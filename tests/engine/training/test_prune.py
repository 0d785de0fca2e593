"""A bottleneck Coconet (narrow inner layers) and cutting one from a trained net."""

from pathlib import Path

import pytest
import torch

from engine.coconet.checkpoint import load_checkpoint, save_checkpoint
from engine.coconet.fused import fused_net
from engine.coconet.loading import coconet_payload, load_coconet
from engine.coconet.model import Coconet, CoconetConfig, config_from_dict
from engine.errors import CantorError
from engine.training.coconet import train_coconet
from engine.training.prune import inner_importance, narrower
from engine.training.structure_setup import initial_weights
from tests.engine.training.test_coconet import args_for
from tests.engine.training.test_distill import deep_net, inputs

WIDE = CoconetConfig(depth=8, width=8, dilation=(1, 2, 4, 8))


def test_a_bottleneck_pair_runs_width_inner_width_and_every_path_agrees():
    config = CoconetConfig(depth=4, width=8, inner=4, dilation=(1, 2), cond_planes=3)
    assert [config.layer_channels(i) for i in range(4)] == [(8, 4), (4, 8), (8, 4), (4, 8)]
    torch.manual_seed(0)
    model = Coconet(config).eval()
    assert tuple(model.layers[0].conv.weight.shape[:2]) == (4, 8)
    assert tuple(model.layers[1].conv.weight.shape[:2]) == (8, 4)
    plain = Coconet(CoconetConfig(depth=4, width=8, dilation=(1, 2), cond_planes=3))
    assert model.num_parameters() < plain.num_parameters()
    classes, mask = inputs(20)
    classes = classes.clamp(max=46)
    with torch.no_grad():
        whole = model(classes, mask)
        assert torch.allclose(model(classes, mask, span=(5, 9))[:, :, 5:9], whole[:, :, 5:9],
                              atol=1e-5)
        folded = model.fuse_for_inference()
        assert torch.allclose(folded(classes, mask), whole, atol=1e-5)
        net = fused_net(folded, torch.float32)
        if net is not None:  # oneDNN's fused kernels take the narrower layers too
            assert torch.allclose(net(classes, mask).float(), whole, atol=1e-4)
    # A saved config keeps its inner width; one saved before the option reads as "no bottleneck".
    assert config_from_dict(config.to_dict()).inner == 4
    assert config_from_dict({k: v for k, v in config.to_dict().items() if k != "inner"}).inner == 0
    with pytest.raises(ValueError, match="inner"):
        CoconetConfig(inner=-1)


def test_pruning_keeps_the_busiest_inner_channels_and_full_width_is_the_same_net():
    deep = deep_net()
    classes, mask = inputs()
    probe = [(classes, mask, None)]
    with torch.no_grad():
        same = narrower(deep, 8, probe).eval()
        assert torch.allclose(same(classes, mask), deep(classes, mask), atol=1e-6)
    # A channel whose readers are zeroed carries nothing: it is the one dropped.
    silenced = deep_net()
    dropped = [5, 0, 7, 2]  # one channel in each of the four pairs
    with torch.no_grad():
        for pair, channel in enumerate(dropped):
            silenced.layers[2 * pair].norm.bias.fill_(1.0)  # every inner channel fires
            silenced.layers[2 * pair + 1].conv.weight[:, channel] = 0
    scores = inner_importance(silenced, probe)
    assert [float(scores[p][c]) for p, c in enumerate(dropped)] == [0.0] * 4
    assert all((s[[c for c in range(8) if c != d]] > 0).all() for s, d in zip(scores, dropped))
    cut = narrower(silenced, 7, probe)
    assert cut.config.inner == 7
    for pair, channel in enumerate(dropped):
        kept = [c for c in range(8) if c != channel]
        first, second = silenced.layers[2 * pair], silenced.layers[2 * pair + 1]
        assert torch.equal(cut.layers[2 * pair].conv.weight, first.conv.weight[kept])
        assert torch.equal(cut.layers[2 * pair].norm.running_var, first.norm.running_var[kept])
        assert torch.equal(cut.layers[2 * pair + 1].conv.weight, second.conv.weight[:, kept])
    with torch.no_grad():  # dropping a channel nothing reads changes nothing
        assert torch.allclose(cut.eval()(classes, mask), silenced(classes, mask), atol=1e-6)
    with pytest.raises(CantorError, match="inner"):
        narrower(deep, 9, probe)


def test_a_narrower_init_cuts_the_checkpoint_on_probe_batches(tmp_path):
    path = tmp_path / "wide.pt"
    save_checkpoint(path, coconet_payload(deep_net(), step=0, metrics={}, data={}))
    config = CoconetConfig(depth=8, width=8, inner=4, dilation=(1, 2, 4, 8))
    classes, mask = inputs()
    calls = []

    def probe():
        calls.append(1)
        return [(classes, mask, None)]

    model = initial_weights(path, config, probe=probe)
    assert calls == [1] and model.config.to_dict() == config.to_dict()
    assert torch.equal(model.inp.weight, deep_net().inp.weight)


def test_a_bottleneck_student_cut_from_its_teacher_trains_and_resumes(tmp_path):
    teacher_args = args_for(tmp_path, out=str(tmp_path / "teacher"), max_steps=30, lr=0.01,
                            config='{"preset": "tiny", "depth": 4, "width": 16, "dilation": [1, 2],'
                                   ' "bf16": false, "warmup_steps": 5}')
    train_coconet(teacher_args)
    teacher_path = Path(teacher_args.out) / "best.pt"
    config = ('{"preset": "tiny", "depth": 4, "width": 16, "inner": 8, "dilation": [1, 2],'
              f' "bf16": false, "warmup_steps": 5, "teacher": "{teacher_path}"}}')
    student_args = args_for(tmp_path, out=str(tmp_path / "student"), max_steps=20, lr=0.01,
                            init=str(teacher_path), config=config)
    train_coconet(student_args)
    out = Path(student_args.out)
    state = load_checkpoint(out / "last.pt", "coconet-train")
    assert state["config"]["inner"] == 8 and state["step"] == 20
    teacher = load_coconet(teacher_path, for_inference=False).eval()
    student = load_coconet(out / "best.pt", for_inference=False).eval()
    assert student.config.inner == 8 and student.num_parameters() < teacher.num_parameters()
    # Resuming keeps the shape (no second cut) and goes on counting.
    resumed = args_for(tmp_path, out=str(out), max_steps=5, resume=True, config=None)
    train_coconet(resumed)
    assert load_checkpoint(out / "last.pt", "coconet-train")["step"] == 25
