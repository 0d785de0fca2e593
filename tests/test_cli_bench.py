"""`cantor bench` end to end in a subprocess, with a tiny real checkpoint standing in for the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from engine.coconet.checkpoint import save_checkpoint
from engine.coconet.model import Coconet, CoconetConfig

ROOT = Path(__file__).resolve().parents[1]
MODEL_KEYS = {
    "forward_t32_b1_ms", "forward_t128_b4_ms", "harmonize_2bar_ms", "harmonize_2bar_4var_ms",
    "harmonize_8bar_ms", "harmonize_2bar_repair_ms", "harmonize_8bar_repair_ms", "gflops_achieved",
    "gflops_peak", "threads",
}  # fmt: skip


def cantor(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=600, env=env)


def test_model_bench_reports_every_key(tmp_path):
    torch.manual_seed(0)
    model = Coconet(CoconetConfig(depth=2, width=8))
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, {"kind": "coconet", "config": model.config.to_dict(),
                           "state_dict": model.state_dict(), "step": 0, "metrics": {}, "data": {}})
    # One thread: correctness, not speed, is tested here, and CI cores are shared.
    env = {**os.environ, "CANTOR_BENCH_CHECKPOINT": str(path), "OMP_NUM_THREADS": "1"}
    run = cantor("bench", "--json", "--only", "model", "--repeats", "1", env=env)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert MODEL_KEYS <= set(data) and "errors" not in data
    assert data["model"].startswith("tiny.pt sha256:")
    assert all(data[k] > 0 for k in MODEL_KEYS)
    assert data["threads"] == int(data["threads"])


def test_an_unknown_benchmark_is_a_one_line_error():
    run = cantor("bench", "--only", "nosuch")
    assert run.returncode == 1
    assert run.stderr.startswith("cantor: error: unknown benchmark 'nosuch': choose from")
    assert "model" in run.stderr


def test_a_benchmark_that_fails_fails_the_command_and_an_empty_only_is_refused(tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_text("not a checkpoint")
    env = {**os.environ, "CANTOR_BENCH_CHECKPOINT": str(broken), "OMP_NUM_THREADS": "1"}
    run = cantor("bench", "--json", "--only", "model", "--repeats", "1", env=env)
    assert run.returncode == 1
    assert "broken.pt" in json.loads(run.stdout)["errors"]["model"]
    run = cantor("bench", "--only", "model", "--repeats", "1", env=env)
    assert run.returncode == 1 and "cantor: error: benchmark model failed:" in run.stderr
    run = cantor("bench", "--only", ",")
    assert run.returncode == 1
    assert run.stderr == "cantor: error: --only names no benchmark: give names separated by commas\n"


FASTPATH_KEYS = {
    "composer_default_8bar_ms", "composer_first_variant_8bar_ms", "infill_1bar_in_8bar_ms",
    "infill_1bar_in_64bar_ms", "cli_harmonize_8bar_wall_ms", "cli_info_wall_ms",
}  # fmt: skip


def test_fastpath_bench_reports_every_key(tmp_path):
    torch.manual_seed(0)
    model = Coconet(CoconetConfig(depth=2, width=8))
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, {"kind": "coconet", "config": model.config.to_dict(),
                           "state_dict": model.state_dict(), "step": 0, "metrics": {}, "data": {}})
    env = {**os.environ, "CANTOR_BENCH_CHECKPOINT": str(path), "OMP_NUM_THREADS": "1"}
    run = cantor("bench", "--json", "--only", "fastpath", "--repeats", "1", env=env)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert FASTPATH_KEYS <= set(data) and "errors" not in data, data
    assert all(data[k] > 0 for k in FASTPATH_KEYS)
    assert data["composer_first_variant_8bar_ms"] < data["composer_default_8bar_ms"]
    assert data["composer_lanes"] in (1, 2, 3, 4)  # variants side by side, at most one each


def test_bench_model_option_measures_the_fast_model():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("CANTOR_BENCH_CHECKPOINT", None)
    run = cantor("bench", "--json", "--only", "model", "--repeats", "1", "--model", "fast", env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["model"].startswith("coconet-fast.pt sha256:6f98477fca89")
    run = cantor("bench", "--model", "huge", env=env)
    assert run.returncode == 2 and "invalid choice: 'huge'" in run.stderr
