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


def test_a_new_run_never_replaces_an_earlier_one_and_two_never_write_one_folder(tmp_path):
    train_coconet(args_for(tmp_path, max_steps=2))
    best = (tmp_path / "run" / "best.pt").read_bytes()
    with pytest.raises(TrainError, match="already holds a run .*--resume"):
        train_coconet(args_for(tmp_path, max_steps=2))
    assert (tmp_path / "run" / "best.pt").read_bytes() == best
    # A second training into the folder while one holds it is refused before it starts.
    from engine.training.coconet import claim_run_folder

    held = claim_run_folder(tmp_path / "run", resume=True)
    try:
        script = ("import sys; from pathlib import Path; from engine.training.coconet import"
                  " claim_run_folder, TrainError\ntry:\n claim_run_folder(Path(sys.argv[1]), True)\n"
                  "except TrainError as exc:\n print(exc)")
        told = subprocess.run([sys.executable, "-c", script, str(tmp_path / "run")], cwd=REPO, check=False,
                              capture_output=True, text=True, timeout=60).stdout
        assert "another training is writing into" in told
    finally:
        held.close()


def test_a_bad_out_folder_is_refused_before_any_data_loads(tmp_path):
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    for out, message in ((a_file, "is a file, not a folder"), (a_file / "sub", "--out")):
        with pytest.raises(TrainError, match=message):
            train_coconet(args_for(tmp_path, out=str(out), data="jsb16:/nonexistent.json"))


@pytest.mark.parametrize(("config", "message"), [
    ('{"grad_clip": -1}', "grad_clip must be more than 0"),
    ('{"final_lr_fraction": -3}', "final_lr_fraction must be at least 0 and at most 1"),
    ('{"val_pieces": -3}', "val_pieces must be at least 0"),
    ('{"crop": "16"}', "crop must be a whole number"),
    ('{"batch_size": 2.5}', "batch_size must be a whole number"),
    ('{"ema": 1.5}', "ema must be at least 0 and at most 1"),
    ('{"bf16": "no"}', "bf16 must be true or false"),
    ('{"mask": "bogus"}', "mask must be orderless or bernoulli"),
    ('{"init_layers": [0, "a"]}', "init_layers must be a list"),
    ('{"kernel": 17}', "kernel must be an integer in range 1..15"),
])
def test_bad_settings_are_refused_before_any_data_loads(tmp_path, config, message):
    with pytest.raises(TrainError, match=message):
        train_coconet(args_for(tmp_path, data="jsb16:/nonexistent.json",
                               config='{"preset": "tiny", ' + config[1:]))


def test_a_diverging_run_stops_with_an_error_and_saves_nothing_non_finite(tmp_path):
    train_coconet(args_for(tmp_path, max_steps=2))
    last = (tmp_path / "run" / "last.pt").read_bytes()
    with pytest.raises(TrainError, match="diverged"):
        train_coconet(args_for(tmp_path, max_steps=20, resume=True, lr=1e30,
                               config='{"grad_clip": 1e30, "warmup_steps": 0}'))
    assert (tmp_path / "run" / "last.pt").read_bytes() == last  # the last finite state stays


def test_resume_keeps_the_validation_and_the_best_of_best_pt(tmp_path, monkeypatch):
    train_coconet(args_for(tmp_path, max_steps=2))
    with pytest.raises(TrainError, match="keeps its validation: val_pieces"):
        train_coconet(args_for(tmp_path, max_steps=1, resume=True, config='{"val_pieces": 1}'))
    # best.pt written but last.pt not (a full disk): a resumed run measures against best.pt.
    from engine.coconet.checkpoint import save_checkpoint

    best = load_checkpoint(tmp_path / "run" / "best.pt", "coconet")
    best["metrics"]["valid_nll"] = 0.001  # better than anything this run will reach
    save_checkpoint(tmp_path / "run" / "best.pt", best)
    summary = train_coconet(args_for(tmp_path, max_steps=2, resume=True))
    assert summary["best"] == 0.001
    assert load_checkpoint(tmp_path / "run" / "best.pt", "coconet")["metrics"]["valid_nll"] == 0.001


def test_ctrl_c_saves_the_run_so_resume_goes_on_from_there(tmp_path, monkeypatch):
    from engine.training import coconet as trainer

    real = trainer.TrainRun.train_step

    def interrupted(self, fraction):
        if self.step == 4:
            raise KeyboardInterrupt
        return real(self, fraction)

    monkeypatch.setattr(trainer.TrainRun, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_coconet(args_for(tmp_path, max_steps=50))
    assert load_checkpoint(tmp_path / "run" / "last.pt", "coconet-train")["step"] == 4
    monkeypatch.setattr(trainer.TrainRun, "train_step", real)
    assert train_coconet(args_for(tmp_path, max_steps=2, resume=True))["step"] == 6
