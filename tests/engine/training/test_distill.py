"""A shallower net cut from a deeper one, and distillation from a teacher's predictions."""

from pathlib import Path

import pytest
import torch

from engine.coconet.checkpoint import load_checkpoint
from engine.coconet.loading import load_coconet
from engine.coconet.masks import distilled_nll, masked_nll
from engine.coconet.model import Coconet, CoconetConfig
from engine.errors import CantorError
from engine.training.coconet import train_coconet
from engine.training.structure_setup import initial_weights, shallower
from tests.engine.training.test_coconet import args_for

DEEP = CoconetConfig(depth=8, width=8, dilation=(1, 2, 4, 8))


def deep_net() -> Coconet:
    torch.manual_seed(0)
    model = Coconet(DEEP)
    for norm in [model.inp_norm, *(layer.norm for layer in model.layers)]:  # not the identity
        norm.running_mean.uniform_(-0.1, 0.1)
        norm.running_var.uniform_(0.5, 1.5)
    return model.eval()


def inputs(steps=24):
    generator = torch.Generator().manual_seed(1)
    classes = torch.randint(0, 47, (2, 4, steps), generator=generator)
    mask = torch.rand(2, 4, steps, generator=generator) < 0.5
    return classes, mask


def test_a_shallower_net_keeps_the_chosen_layers_with_their_dilations():
    deep = deep_net()
    cut = shallower(deep, [0, 1, 2, 3])
    assert cut.config.depth == 4 and cut.config.dilation == DEEP.dilation
    assert [layer.conv.dilation[0] for layer in cut.layers] == [1, 2, 4, 8]
    for mine, theirs in zip(cut.layers, deep.layers[:4]):
        assert torch.equal(mine.conv.weight, theirs.conv.weight)
        assert torch.equal(mine.norm.running_var, theirs.norm.running_var)
    # Keeping every layer is the same net.
    classes, mask = inputs()
    with torch.no_grad():
        assert torch.equal(shallower(deep, range(8)).eval()(classes, mask), deep(classes, mask))
    with pytest.raises(CantorError, match="dilation cycle"):
        shallower(deep, [0, 2, 3, 4])  # 1, 4, 8, 1: not whole cycles
    with pytest.raises(CantorError, match="distinct"):
        shallower(deep, [0, 0, 1, 2])


def test_init_layers_start_a_shallower_run_from_a_saved_deeper_net(tmp_path):
    from engine.coconet.checkpoint import save_checkpoint
    from engine.coconet.loading import coconet_payload

    path = tmp_path / "deep.pt"
    save_checkpoint(path, coconet_payload(deep_net(), step=0, metrics={}, data={}))
    config = CoconetConfig(depth=4, width=8, dilation=(1, 2, 4, 8))
    model = initial_weights(path, config, (4, 5, 6, 7))
    assert torch.equal(model.layers[0].conv.weight, deep_net().layers[4].conv.weight)
    with pytest.raises(CantorError, match="not the one asked"):
        initial_weights(path, CoconetConfig(depth=4, width=16, dilation=(1, 2, 4, 8)), (4, 5, 6, 7))


def test_distilled_loss_is_the_cross_entropy_to_the_teacher_on_masked_cells():
    classes, mask = inputs()
    logits = torch.randn(2, 4, 24, 47)
    sharp = torch.nn.functional.one_hot(classes, 47).float() * 1e4  # a certain teacher = the notes
    assert torch.allclose(distilled_nll(logits, sharp, mask), masked_nll(logits, classes, mask),
                          atol=1e-4)
    # Against itself the loss is the teacher's entropy, the least any student can reach.
    teacher = torch.randn(2, 4, 24, 47)
    entropy = distilled_nll(teacher, teacher, mask)
    assert (distilled_nll(logits, teacher, mask) > entropy).all()
    # Unmasked cells do not count.
    changed = logits.clone()
    changed[~mask] += 5 * torch.randn(int((~mask).sum()), 47)
    assert torch.allclose(distilled_nll(changed, teacher, mask), distilled_nll(logits, teacher, mask))


def test_a_student_learns_its_teacher(tmp_path):
    """A tiny teacher trained on the toy cadences; a shallower student cut from it and distilled
    comes closer to the teacher's predictions than where it started."""
    teacher_args = args_for(tmp_path, out=str(tmp_path / "teacher"), max_steps=40, lr=0.01,
                            config='{"preset": "tiny", "depth": 4, "width": 16, "dilation": [1, 2],'
                                   ' "bf16": false, "warmup_steps": 5}')
    train_coconet(teacher_args)
    teacher_path = Path(teacher_args.out) / "best.pt"
    student_args = args_for(
        tmp_path, out=str(tmp_path / "student"), max_steps=40, lr=0.01,
        init=str(teacher_path),
        config='{"preset": "tiny", "depth": 2, "width": 16, "dilation": [1, 2], "bf16": false,'
               f' "warmup_steps": 5, "init_layers": [2, 3], "teacher": "{teacher_path}"}}')
    train_coconet(student_args)
    state = load_checkpoint(Path(student_args.out) / "last.pt", "coconet-train")
    assert state["settings"]["teacher"] == str(teacher_path)
    assert list(state["settings"]["init_layers"]) == [2, 3]
    teacher = load_coconet(teacher_path, for_inference=False).eval()
    start = shallower(teacher, [2, 3]).eval()
    student = Coconet(start.config)
    student.load_state_dict(state["state_dict"])
    student.eval()
    classes, mask = inputs(32)
    classes = classes.clamp(max=46)
    with torch.no_grad():
        target = teacher(classes, mask)
        before = distilled_nll(start(classes, mask), target, mask).mean()
        after = distilled_nll(student(classes, mask), target, mask).mean()
    assert after < before
