"""Hostile checkpoints: config bombs, NaN weights, junk files and pickles that hold code."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time

import pytest
import torch

from engine.coconet.checkpoint import load_checkpoint, save_checkpoint
from engine.coconet.loading import load_coconet, save_coconet
from engine.coconet.model import Coconet, CoconetConfig
from engine.errors import CheckpointError

from .conftest import ROOT, cantor, chorale_file, one_error_line

BOMB_SCRIPT = """
import sys, time
import torch  # imported before the clock starts: the import is not the bomb
from engine.coconet.loading import load_coconet
from engine.errors import CheckpointError
started = time.perf_counter()
try:
    load_coconet(sys.argv[1])
except CheckpointError as exc:
    seconds = time.perf_counter() - started
    # This process's own peak (VmHWM starts afresh at exec; ru_maxrss would count the parent's).
    peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print(f"{seconds:.3f} {int(peak.split()[1])} {exc}")
"""


def test_a_config_bomb_is_refused_in_under_a_second_and_300_mb(tmp_path):
    bomb = tmp_path / "bomb.pt"
    save_checkpoint(bomb, {"kind": "coconet", "state_dict": {},
                           "config": {"depth": 2_000_000, "width": 64, "kernel": 3}})
    assert bomb.stat().st_size < 4096
    process = subprocess.Popen([sys.executable, "-c", BOMB_SCRIPT, str(bomb)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    seconds, peak_kib, message = out.split(" ", 2)
    assert float(seconds) < 1.0
    assert "depth must be an integer in range 2..256; got 2000000" in message
    assert int(peak_kib) < 300 * 1024


@pytest.mark.parametrize("config", [
    {"depth": 16, "width": 10**6},
    {"depth": 16, "kernel": 99},
    {"depth": 16, "dilation": [1, 2, 10**9]},
    {"depth": 256, "width": 1024, "kernel": 15},
    {"depth": "16"},
])
def test_configs_out_of_bounds_are_refused(tmp_path, config):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"kind": "coconet", "config": config, "state_dict": {}})
    with pytest.raises(CheckpointError, match="is not a usable checkpoint"):
        load_coconet(path)


def test_non_finite_weights_are_refused(tmp_path):
    model = Coconet(CoconetConfig(depth=2, width=8))
    with torch.no_grad():
        next(model.parameters()).view(-1)[3] = float("nan")
    path = tmp_path / "nan.pt"
    save_coconet(path, model, step=0, metrics={}, data={})
    with pytest.raises(CheckpointError, match=r"nan\.pt is damaged: its weights .* hold NaN or infinite"):
        load_coconet(path)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("kind", ["text", "random", "zip pickle with code", "bare pickle with code"])
def test_junk_and_code_as_checkpoint_are_one_line(tmp_path, kind):
    path = tmp_path / "model.pt"
    if kind == "text":
        path.write_text("this is a text file, not a model\n" * 20)
    elif kind == "random":
        path.write_bytes(os.urandom(4096))
    elif kind == "zip pickle with code":
        torch.save({"kind": "coconet", "config": {}, "state_dict": {}, "x": _RunsCode()}, path)
    else:
        path.write_bytes(pickle.dumps(_RunsCode(), protocol=4))
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path, "coconet")
    message = str(caught.value)
    if "code" in kind:
        assert message.startswith("refused to load model.pt: it holds code, not just weights (")
        assert "system" in message
    else:
        assert message == "model.pt is not a readable checkpoint (damaged or truncated)"


def test_the_cli_names_a_junk_checkpoint_on_one_line(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_text("hello\n" * 100)
    song = chorale_file(tmp_path / "t.mid")
    started = time.perf_counter()
    line = one_error_line(cantor("harmonize", song, "-o", tmp_path / "o.mid", "--checkpoint", junk))
    assert line == "cantor: error: junk.pt is not a readable checkpoint (damaged or truncated)"
    assert time.perf_counter() - started < 120
