"""The Composer's fast path: windowed == whole piece, first variant first, cancel, thread cache."""

import json
import time

import numpy as np
import pytest
import torch

from engine.coconet import threads
from engine.coconet.composer import Composer
from engine.coconet.model import Coconet, CoconetConfig
from engine.music.score import Score

CONFIG = CoconetConfig(depth=4, width=8, dilation=(1, 2))  # receptive field 8 steps


def tiny():
    torch.manual_seed(0)
    return Coconet(CONFIG).eval()


@pytest.fixture(scope="module")
def pair():
    model = tiny()
    return (Composer(model=model, threads=1, precision="fp32"),
            Composer(model=model, threads=1, precision="fp32", window=False))


def chorale(bars: int, time_signature=(4, 4), pickup: int = 0, seed: int = 0) -> Score:
    """A four-voice piece of plausible pitches in quarter notes."""
    bar = Score.empty(1, time_signature=time_signature).steps_per_bar
    steps = pickup + bars * bar
    rng = np.random.default_rng(seed)
    centres = np.array([72, 65, 57, 48])[:, None]
    quarters = centres + rng.integers(-4, 5, size=(4, (steps + 3) // 4))
    pitches = np.repeat(quarters, 4, axis=1)[:, :steps].astype(np.int16)
    return Score(pitches, time_signature=time_signature, pickup=pickup)


def same_variants(a, b) -> None:
    assert [v.seed for v in a.variants] == [v.seed for v in b.variants]
    for x, y in zip(a.variants, b.variants):
        assert np.array_equal(x.score.pitches, y.score.pitches)
        assert x.nll == pytest.approx(y.nll, abs=1e-4)


CASES = {
    "bar in the middle": (chorale(8), (4, 4), (1, 2)),
    "first bar": (chorale(8), (1, 1), (0, 1, 2, 3)),
    "last bar": (chorale(8), (8, 8), (3,)),
    "pickup": (chorale(6, pickup=4), (0, 1), (1, 2)),
    "3/4": (chorale(10, time_signature=(3, 4)), (5, 6), (2, 3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_infill_with_repair_on_a_window_equals_the_whole_piece(pair, name):
    score, bars, voices = CASES[name]
    mask = score.region_mask(*score.bar_range(*bars), voices)
    windowed, whole = (c.infill(score, mask, variants=2, steps=6, seed=3, repair=2) for c in pair)
    same_variants(windowed, whole)
    for variant in windowed.variants:
        assert np.array_equal(variant.score.pitches[~mask], score.pitches[~mask])


def test_two_separate_regions_are_one_windowed_request(pair):
    score = chorale(12)
    mask = score.region_mask(*score.bar_range(2, 2), (1,)) | score.region_mask(
        *score.bar_range(10, 10), (2, 3))
    same_variants(*(c.infill(score, mask, variants=2, steps=6, seed=1, repair=1) for c in pair))


def test_harmonize_and_heatmap_windowed_equal_whole(pair):
    score = chorale(4)
    same_variants(*(c.harmonize(score, keep=(0,), variants=2, steps=4, repair=1) for c in pair))
    whole_map = pair[1].confidence(score)
    part = pair[0].confidence(score, steps=(16, 32))
    assert part.shape == (4, 16)
    assert np.allclose(part, whole_map[:, 16:32], atol=1e-4)
    assert np.allclose(pair[0].confidence(score), whole_map, atol=1e-4)


def test_the_first_variant_arrives_before_the_others_start(pair):
    composer = pair[0]
    score = chorale(4)
    events = []
    result = composer.harmonize(
        score, variants=3, steps=4, seed=7, on_variant=lambda v: events.append(("variant", v.seed)),
        progress=lambda p: events.append(("step", p.step, p.total)))
    assert events.index(("variant", 7)) < min(i for i, e in enumerate(events)
                                              if e[0] == "step" and e[1] > e[2] // 2)
    assert sorted(e[1] for e in events if e[0] == "variant") == [7, 8, 9]
    steps = [e for e in events if e[0] == "step"]
    assert [e[1] for e in steps] == sorted(e[1] for e in steps)  # one progress bar, 1..total
    assert steps[-1][1] == steps[-1][2] == 2 * 5
    plain = composer.harmonize(score, variants=3, steps=4, seed=7)
    same_variants(result, plain)  # the split changes nothing but the order of arrival


def test_cancel_mid_run_returns_nothing_and_leaves_the_score(pair):
    score = chorale(4)
    before = score.pitches.copy()
    calls = []
    result = pair[0].harmonize(score, variants=2, steps=20, repair=2,
                               progress=lambda p: calls.append(p.step),
                               cancel=lambda: len(calls) >= 5)
    assert result.cancelled and not result.variants
    assert len(calls) == 5 and np.array_equal(score.pitches, before)


def test_thread_choice_is_measured_once_cached_and_deletable(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(threads, "busy", lambda: False)
    monkeypatch.setattr(threads, "others_share", lambda before: 0.0)  # no other process ran
    measured = []
    real = threads.measure_threads
    monkeypatch.setattr(threads, "measure_threads",
                        lambda *a: measured.append(1) or real(*a))
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        first = Composer(model=tiny(), precision="fp32").threads
        cache = tmp_path / "cantor" / "threads.json"
        assert measured == [1] and cache.is_file()
        assert list(json.loads(cache.read_text()).values()) == [first]
        torch.set_num_threads(2)
        assert Composer(model=tiny(), precision="fp32").threads == first
        assert measured == [1]  # the second start reads the cache
        cache.write_text(json.dumps({k: 1 for k in json.loads(cache.read_text())}))
        torch.set_num_threads(2)
        assert Composer(model=tiny(), precision="fp32").threads == 1  # the cached choice is used
        cache.unlink()  # deleting it is safe: the next start measures again
        torch.set_num_threads(2)
        Composer(model=tiny(), precision="fp32")
        assert measured == [1, 1] and cache.is_file()
        cache.write_text("not json")  # a damaged cache is measured over, not an error
        torch.set_num_threads(2)
        Composer(model=tiny(), precision="fp32")
        assert measured == [1, 1, 1]
    finally:
        torch.set_num_threads(old)


def test_a_busy_machine_uses_one_thread_and_neither_measures_nor_caches(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(threads, "busy", lambda: True)
    monkeypatch.setattr(threads, "measure_threads", lambda *a: pytest.fail("measured while busy"))
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert Composer(model=tiny(), precision="fp32").threads == 1
        assert not (tmp_path / "cantor" / "threads.json").exists()
    finally:
        torch.set_num_threads(old)


def test_a_choice_measured_while_other_processes_ran_serves_once_and_is_not_kept(
        monkeypatch, tmp_path):
    """The load average lags: two real busy processes start just before the measurement."""
    import subprocess
    import sys

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(threads, "busy", lambda: False)  # as a load average a minute old says
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        time.sleep(0.3)
        assert Composer(model=tiny(), precision="fp32").threads in (1, 2)
        assert not (tmp_path / "cantor" / "threads.json").exists()
    finally:
        for process in spin:
            process.kill()
            process.wait()
        torch.set_num_threads(old)
    before = threads.cpu_snapshot()
    assert before is not None and threads.others_share(before) is not None


def test_busy_reads_what_other_processes_did_while_this_one_started(monkeypatch):
    """(busy seconds of all cores, own CPU seconds, wall clock) one second apart: the load average
    a minute old is not asked when the window says enough."""
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.9, 1.9, 1.9))  # the last command's
    monkeypatch.setattr(threads, "_verdict", None)
    monkeypatch.setattr(threads, "_since", (100.0, 5.0, 50.0))
    monkeypatch.setattr(threads, "cpu_snapshot", lambda: (101.1, 6.0, 51.0))  # others: 0.1 core
    assert threads.busy() is False
    # a call right after repeats the verdict (the lanes ask just after the thread choice)
    monkeypatch.setattr(threads, "cpu_snapshot", lambda: (101.15, 6.0, 51.05))
    assert threads.busy() is False
    monkeypatch.setattr(threads, "cpu_snapshot", lambda: (102.1, 6.0, 52.0))  # others: 1 core
    assert threads.busy() is True
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    monkeypatch.setattr(threads, "cpu_snapshot", lambda: (200.0, 7.0, 100.0))  # long ago
    assert threads.busy() is False  # the load average decides, and a new window starts
    assert threads._since == (200.0, 7.0, 100.0) and threads._verdict is None
    monkeypatch.setattr(threads, "cpu_snapshot", lambda: None)  # /proc/stat unreadable
    assert threads.busy() is False
