import json
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import torch

from engine.coconet.checkpoint import load_checkpoint
from engine.coconet.loading import load_coconet
from engine.training.coconet import (
    PRESETS,
    TrainError,
    TrainSettings,
    learning_rate,
    parse_config,
    train_coconet,
)

REPO = Path(__file__).resolve().parents[3]
CHORDS = [[72, 67, 64, 48], [72, 69, 65, 53], [71, 67, 62, 55], [72, 67, 64, 48]]


def tiny_data(tmp_path, pieces=6):
    """Cadences in C, each chord held 4 steps: easy to learn, impossible to guess blindly."""
    piece = [chord for chord in CHORDS for _ in range(4)] * 2  # 32 steps
    data = {"train": [piece] * pieces, "valid": [piece[:20], piece], "test": [piece]}
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    return f"jsb16:{path}"


def args_for(tmp_path, **overrides):
    values = {"data": tiny_data(tmp_path), "out": str(tmp_path / "run"), "resume": False,
              "minutes": None, "seed": 0, "max_steps": 5, "batch_size": None, "lr": None,
              "threads": 1, "config": '{"preset": "tiny", "bf16": false}'}
    values.update(overrides)
    return Namespace(**values)


def losses(run_dir):
    return [json.loads(line) for line in (Path(run_dir) / "log.jsonl").read_text().splitlines()]


def test_tiny_model_learns_tiny_data(tmp_path):
    args = args_for(tmp_path, max_steps=60, lr=0.01,
                    config='{"preset": "tiny", "width": 16, "warmup_steps": 5, '
                           '"val_every_minutes": 0}')
    summary = train_coconet(args)
    history = losses(args.out)
    assert summary["step"] == 60
    early = [h["train_loss"] for h in history[:3]]
    late = [h["train_loss"] for h in history[-3:]]
    assert max(late) < 0.6 * min(early), (early, late)
    assert history[-1]["valid_nll"] < history[0]["valid_nll"] - 0.5
    model = load_coconet(Path(args.out) / "best.pt")  # the best validation is a coconet file
    assert model.checkpoint_info["metrics"]["valid_nll"] == pytest.approx(summary["best"])


def test_same_seed_same_run(tmp_path):
    a = train_coconet(args_for(tmp_path / "a", out=str(tmp_path / "a/run")))
    b = train_coconet(args_for(tmp_path / "b", out=str(tmp_path / "b/run")))
    c = train_coconet(args_for(tmp_path / "c", out=str(tmp_path / "c/run"), seed=1))
    weights = [load_checkpoint(Path(r["out"]) / "last.pt", "coconet-train")["state_dict"]
               for r in (a, b, c)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_resume_continues_the_run(tmp_path):
    args = args_for(tmp_path, max_steps=3)
    train_coconet(args)
    summary = train_coconet(args_for(tmp_path, max_steps=2, resume=True))
    assert summary["step"] == 5
    state = load_checkpoint(Path(args.out) / "last.pt", "coconet-train")
    assert state["step"] == 5 and len(state["history"]) == 2
    with pytest.raises(TrainError, match="nothing to resume"):
        train_coconet(args_for(tmp_path, out=str(tmp_path / "fresh"), resume=True))


def test_minutes_time_box_stops(tmp_path):
    summary = train_coconet(args_for(tmp_path, max_steps=None, minutes=0.02))
    assert summary["step"] >= 1 and summary["minutes"] < 1.0


def test_parse_config_presets_json_and_errors():
    config, train = parse_config("tiny")
    assert config.depth == 2 and train["crop"] == 16
    config, train = parse_config('{"preset": "dilated16x64", "width": 32, "lr": 0.01}')
    assert config.dilation == (1, 2, 4, 8) and config.width == 32 and train == {"lr": 0.01}
    assert parse_config(None)[0].depth == 16
    for bad, message in [("{", "preset"), ('{"depht": 3}', "unknown config key"),
                         ('{"depth": 3}', "bad model config"), ("[1]", "JSON must be an object"),
                         ('{"preset": "huge"}', "unknown preset")]:
        with pytest.raises(TrainError, match=message):
            parse_config(bad)
    assert set(PRESETS) >= {"straight16x64", "dilated16x64", "separable32x128"}


def test_learning_rate_schedule():
    s = TrainSettings(lr=1.0, warmup_steps=10, final_lr_fraction=0.1)
    assert learning_rate(s, 0, 0.0) == pytest.approx(0.1)
    assert learning_rate(s, 100, 0.0) == pytest.approx(1.0)
    assert learning_rate(s, 100, 0.5) == pytest.approx(0.55)
    assert learning_rate(s, 100, 1.0) == pytest.approx(0.1)


def test_ddp_two_cpu_processes(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(REPO / "cli.py"), "train", "coconet", "--data", tiny_data(tmp_path),
           "--out", str(out), "--max-steps", "3", "--threads", "1",
           "--config", '{"preset": "tiny", "bf16": false}']
    done = subprocess.run(cmd, check=False, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    state = load_checkpoint(out / "last.pt", "coconet-train")
    assert state["step"] == 3 and state["data"]["processes"] == 2
    gens = state["generators"]
    assert len(gens) == 2 and not torch.equal(gens[0], gens[1])  # each rank its own crops
    assert (out / "best.pt").is_file()


def test_resume_may_change_training_settings_but_not_the_network(tmp_path):
    train_coconet(args_for(tmp_path, max_steps=2))
    summary = train_coconet(args_for(tmp_path, max_steps=1, resume=True,
                                     config='{"crop": 24, "batch_size": 2, "lr": 0.0005}'))
    assert summary["step"] == 3
    state = load_checkpoint(Path(tmp_path / "run") / "last.pt", "coconet-train")
    assert (state["settings"]["crop"], state["settings"]["batch_size"]) == (24, 2)
    assert state["settings"]["lr"] == 0.0005 and state["settings"]["bf16"] is False
    with pytest.raises(TrainError, match="keeps its network: depth is 2"):
        train_coconet(args_for(tmp_path, max_steps=1, resume=True, config='{"depth": 3}'))
    with pytest.raises(TrainError, match="unknown config key 'cropp'"):
        train_coconet(args_for(tmp_path, max_steps=1, resume=True, config='{"cropp": 3}'))


def test_a_cadence_weight_changes_what_a_structure_run_learns(tmp_path, monkeypatch):
    from engine.coconet.structure import NUM_PLANES
    from engine.training import structure_setup

    # Unknown metadata (no music21 matching for the toy data): the cadences are the final chords.
    monkeypatch.setattr(structure_setup, "piece_metadata", lambda spec, data: {
        s: [None] * len(data.split(s)) for s in ("train", "valid", "test")})
    runs = {}
    for weight in (1.0, 4.0):
        config = json.dumps({"preset": "tiny", "bf16": False, "structure": True, "crop": 32,
                             "cond_planes": NUM_PLANES, "cadence_weight": weight})
        out = tmp_path / f"w{weight}"
        train_coconet(args_for(tmp_path, out=str(out), max_steps=2, config=config))
        runs[weight] = load_checkpoint(out / "last.pt", "coconet-train")
    assert runs[4.0]["settings"]["cadence_weight"] == 4.0
    assert runs[4.0]["settings"]["cadence_steps"] == TrainSettings().cadence_steps
    first, second = (runs[w]["state_dict"] for w in (1.0, 4.0))
    assert not all(torch.equal(first[k], second[k]) for k in first)
