"""Variants side by side (engine/coconet/lanes.py): same music as one at a time, one progress bar,
every variant handed over, cancel and errors reach the caller, torch's threads restored."""

import threading

import numpy as np
import pytest
import torch

from engine.coconet import lanes as lanes_module
from engine.coconet.composer import Composer
from engine.coconet.model import Coconet, CoconetConfig

from .test_composer_window import chorale

CONFIG = CoconetConfig(depth=4, width=8, dilation=(1, 2))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Coconet(CONFIG).eval()


def composer(model, lanes):
    return Composer(model=model, precision="fp32", lanes=lanes)


def test_lanes_write_what_each_seed_writes_alone(model):
    score = chorale(4)
    together = composer(model, 2).harmonize(score, variants=4, steps=8, seed=11, repair=2)
    assert sorted(v.seed for v in together.variants) == [11, 12, 13, 14]
    alone = composer(model, 1)
    for variant in together.variants:
        single = alone.harmonize(score, variants=1, steps=8, seed=variant.seed, repair=2).variants[0]
        assert np.array_equal(variant.score.pitches, single.score.pitches)
        assert variant.nll == pytest.approx(single.nll, abs=1e-6)
    nlls = [v.nll for v in together.variants]
    assert nlls == sorted(nlls)


def test_one_progress_bar_and_every_variant_handed_over_once(model):
    events, lock = [], threading.Lock()

    def record(*event):
        with lock:
            events.append((threading.get_ident(), *event))

    result = composer(model, 2).infill(
        chorale(4), np.ones((4, 64), dtype=bool), variants=3, steps=6, seed=2, repair=1,
        progress=lambda p: record("step", p.step, p.total, p.pitches.shape),
        on_variant=lambda v: record("variant", v.seed))
    steps = [e for e in events if e[1] == "step"]
    assert [e[2] for e in steps] == sorted(e[2] for e in steps)  # never goes back
    per_variant = 6 + 1 + 1 * 24  # fill + steps, then one repair round of 24 passes
    assert {e[3] for e in steps} == {3 * per_variant}
    assert steps[-1][2] == 3 * per_variant
    assert all(e[4] == (1, 4, 64) for e in steps)  # the draft of one variant, the leading one
    handed = [e for e in events if e[1] == "variant"]
    assert sorted(e[2] for e in handed) == [2, 3, 4]
    # With on_variant the first one runs alone, before the others start; two lanes write those.
    assert handed[0][2] == 2 and handed[0][0] == threading.get_ident()
    before = events[:events.index(handed[0])]
    assert max(e[2] for e in before if e[1] == "step") == per_variant  # no other work yet
    assert len({e[0] for e in handed[1:]}) == 2 and threading.get_ident() not in {
        e[0] for e in handed[1:]}
    assert len(result.variants) == 3


def test_cancel_stops_every_lane_and_returns_nothing(model):
    score = chorale(4)
    before = score.pitches.copy()
    calls = []
    result = composer(model, 2).harmonize(score, variants=4, steps=200,
                                          progress=lambda p: calls.append(p.step),
                                          cancel=lambda: len(calls) >= 5)
    assert result.cancelled and not result.variants
    assert np.array_equal(score.pitches, before)
    assert not [t for t in threading.enumerate() if t.name.startswith("cantor-lane")]


def test_an_error_in_a_lane_reaches_the_caller_and_threads_are_restored(model):
    lanes = composer(model, 2)  # (picks its thread count when made)
    torch.set_num_threads(2)
    calls = []

    def cancel():
        calls.append(1)
        if len(calls) == 30:
            raise RuntimeError("disk on fire")
        return False

    with pytest.raises(RuntimeError, match="disk on fire"):
        lanes.harmonize(chorale(4), variants=3, steps=50, cancel=cancel)
    assert torch.get_num_threads() == 2
    assert not [t for t in threading.enumerate() if t.name.startswith("cantor-lane")]


def test_a_lane_runs_torch_on_one_thread(model, monkeypatch):
    seen = []
    real = lanes_module._Hub.finish

    def finish(hub, job):
        seen.append(torch.get_num_threads())
        real(hub, job)

    monkeypatch.setattr(lanes_module._Hub, "finish", finish)
    lanes = composer(model, 2)
    torch.set_num_threads(2)
    lanes.harmonize(chorale(2), variants=2, steps=4)
    assert seen == [1, 1] and torch.get_num_threads() == 2


def test_choice_of_lanes(monkeypatch):
    from engine.coconet import threads

    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "busy", lambda: False)
    monkeypatch.delenv("CANTOR_LANES")
    choose = lanes_module.choose_lanes
    assert choose(4, None, None) == 2  # one per free core
    assert choose(1, None, None) == 1  # one variant
    assert choose(4, None, 1) == 1  # the caller chose a thread count
    assert choose(4, 3, None) == 3 and choose(2, 8, None) == 2  # asked for, at most one a variant
    assert choose(4, None, None, first_alone=True) == 1  # the editor: the first one first
    assert choose(4, 2, None, first_alone=True) == 2
    monkeypatch.setattr(threads, "busy", lambda: True)
    assert choose(4, None, None) == 1  # other work holds the cores
    monkeypatch.setattr(threads, "busy", lambda: False)
    monkeypatch.setattr(threads, "cores", lambda: 1)
    assert choose(4, None, None) == 1


def test_one_lane_progress_with_repair_ends_at_its_total(model):
    # The second batch's repair passes used to be counted from twice its offset (past the total).
    steps = []
    composer(model, 1).harmonize(chorale(4), variants=3, steps=4, repair=1, seed=3,
                                 on_variant=lambda v: None,
                                 progress=lambda p: steps.append((p.step, p.total)))
    per_batch = 4 + 1 + 24
    assert {t for _, t in steps} == {2 * per_batch}
    assert [s for s, _ in steps] == sorted(s for s, _ in steps)
    assert steps[-1][0] == 2 * per_batch


def test_the_environment_sets_lanes_for_requests_that_name_none(monkeypatch):
    from engine.coconet import threads

    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "busy", lambda: False)
    for text, expected in (("1", 1), ("3", 3), ("", 2), ("zero", 2), ("0", 2)):
        monkeypatch.setenv("CANTOR_LANES", text)
        assert lanes_module.choose_lanes(4, None, None) == expected, text
    monkeypatch.setenv("CANTOR_LANES", "1")
    assert lanes_module.choose_lanes(4, 2, None) == 2  # a request's own choice comes first
