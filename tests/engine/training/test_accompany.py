"""Training the accompaniment predictor: losses fall, runs resume exactly, configs are checked."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.accompany.model import AccompanimentVAE, AccompanyConfig, SurrogateEncoder
from engine.coconet.checkpoint import load_checkpoint
from engine.errors import CantorError
from engine.training.accompany import build_configs, train_accompany
from engine.training.accompany_data import SegmentSampler, fixed_segments, load_data
from engine.training.accompany_eval import vae_metrics


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: tiny models run fastest so on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_chorales(count: int, quarters: int, seed: int) -> list:
    """Four-part pieces in JSB-16th layout: a stepwise soprano over fixed chord shapes."""
    rng = np.random.default_rng(seed)
    pieces = []
    for _ in range(count):
        soprano = 67 + np.clip(np.cumsum(rng.integers(-2, 3, quarters)), -6, 10)
        shape = rng.choice([(4, 9, 16), (3, 8, 15), (5, 12, 19)], size=quarters)
        steps = []
        for s, (a, t, b) in zip(soprano, shape):
            steps += [[int(s), int(s - a), int(s - t), int(s - b)]] * 4
        pieces.append(steps)
    return pieces


def write_data(folder, count=6, quarters=16, seed=0):
    path = folder / "tiny.json"
    data = {"train": tiny_chorales(count, quarters, seed), "valid": tiny_chorales(2, quarters, seed + 1),
            "test": tiny_chorales(2, quarters, seed + 2)}
    path.write_text(json.dumps(data))
    return path


def train_args(tmp_path, data, **overrides):
    return argparse.Namespace(**{
        "data": f"jsb16:{data}", "out": str(tmp_path / "run"), "resume": False, "minutes": None,
        "seed": 0, "max_steps": 4, "batch_size": 8, "lr": None, "threads": 1, "config": "tiny",
        **overrides,
    })


def test_vae_and_surrogate_losses_fall(tmp_path):
    data = load_data(f"jsb16:{write_data(tmp_path)}")
    config = AccompanyConfig(embed=8, width=32, latent=8, surrogate_width=32, segment=16)
    torch.manual_seed(0)
    vae, surrogate = AccompanimentVAE(config), SurrogateEncoder(config)
    sampler = SegmentSampler(data.train, config, transpose=0)
    valid = torch.from_numpy(fixed_segments(data.train, config))
    before = vae_metrics(vae, valid)["vae_recon_nll_per_cell"]
    rng = np.random.default_rng(0)
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    from engine.accompany.model import kl_per_dim, reconstruction_loss

    vae.train()
    for _ in range(60):
        batch = torch.from_numpy(sampler.batch(rng, 16))
        logits, mu, logvar = vae(batch)
        loss = reconstruction_loss(logits, batch, config) + 0.1 * kl_per_dim(mu, logvar).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = vae_metrics(vae, valid)["vae_recon_nll_per_cell"]
    assert after < 0.7 * before

    vae.eval()
    with torch.no_grad():
        target = vae.encode(valid)[0]
    with torch.no_grad():
        first = float(torch.nn.functional.mse_loss(surrogate(valid[:, 0]), target))
    opt = torch.optim.Adam(surrogate.parameters(), lr=3e-3)
    for _ in range(60):
        loss = torch.nn.functional.mse_loss(surrogate(valid[:, 0]), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * first


def test_trainer_writes_a_self_describing_checkpoint(tmp_path):
    found = train_accompany(train_args(tmp_path, write_data(tmp_path)))
    payload = load_checkpoint(found["checkpoint"], "accompany")
    assert payload["config"]["segment"] == 16  # the tiny preset
    assert set(payload["state_dict"]) == {"vae", "surrogate"}
    assert payload["step"] == {"vae": 4, "surrogate": 4}
    assert payload["data"]["melody"] == "soprano"
    assert payload["melody_range"][0] >= 36 and len(payload["latent_sigma"]) == 8
    for key in ("vae_recon_accuracy", "vae_kl_nats", "surrogate_mse", "surrogate_mse_mean_baseline"):
        assert np.isfinite(payload["metrics"][key])


def test_same_seed_gives_the_same_weights(tmp_path):
    data = write_data(tmp_path)
    one = train_accompany(train_args(tmp_path / "a", data, max_steps=5))
    two = train_accompany(train_args(tmp_path / "b", data, max_steps=5))
    other = train_accompany(train_args(tmp_path / "c", data, max_steps=5, seed=1))
    one, two, other = (load_checkpoint(r["checkpoint"], "accompany")["state_dict"] for r in (one, two, other))
    for part in ("vae", "surrogate"):
        for name, tensor in one[part].items():
            assert torch.equal(tensor, two[part][name]), name
    assert not all(torch.equal(t, other["vae"][n]) for n, t in one["vae"].items())


def test_resume_with_more_steps_continues_both_phases(tmp_path):
    data = write_data(tmp_path)
    train_accompany(train_args(tmp_path, data, max_steps=3))
    resumed = train_accompany(train_args(tmp_path, data, max_steps=5, resume=True))
    assert load_checkpoint(resumed["checkpoint"], "accompany")["step"] == {"vae": 5, "surrogate": 5}


def test_resume_continues_a_run_exactly(tmp_path):
    """A run interrupted inside the VAE phase and resumed gives the same weights."""
    data = write_data(tmp_path)
    config = '{"preset": "tiny", "vae_steps": 6, "surrogate_steps": 2, "lr_decay": false}'
    straight = train_accompany(train_args(tmp_path / "a", data, max_steps=None, config=config))
    partial = '{"preset": "tiny", "vae_steps": 3, "surrogate_steps": 0, "lr_decay": false}'
    train_accompany(train_args(tmp_path / "b", data, max_steps=None, config=partial))
    state = tmp_path / "b" / "run" / "accompany_state.pt"
    payload = torch.load(state, weights_only=True)
    # The planned lengths of the straight run: the resumed run continues where this one stopped.
    payload["train_config"].update(vae_steps=6, surrogate_steps=2)
    torch.save(payload, state)
    resumed = train_accompany(train_args(tmp_path / "b", data, max_steps=None, resume=True))
    one = load_checkpoint(straight["checkpoint"], "accompany")
    two = load_checkpoint(resumed["checkpoint"], "accompany")
    assert two["step"] == {"vae": 6, "surrogate": 2}
    for part in ("vae", "surrogate"):
        for name, tensor in one["state_dict"][part].items():
            assert torch.equal(tensor, two["state_dict"][part][name]), (part, name)


def test_config_spec_forms(tmp_path):
    tracks = {"track_names": ("s", "a", "t", "b"), "track_classes": (47,) * 4, "track_low": (36,) * 4}
    args = argparse.Namespace(batch_size=5, lr=None, max_steps=7)
    config, train = build_configs("tiny", tracks, args)
    assert config.width == 16 and train.batch_size == 5 and train.vae_steps == 7
    config, train = build_configs('{"preset": "small", "beta": 2.0}', tracks, args)
    assert config.width == 64 and train.beta == 2.0
    file = tmp_path / "c.json"
    file.write_text('{"latent": 12}')
    assert build_configs(str(file), tracks, args)[0].latent == 12
    with pytest.raises(CantorError, match="unknown accompaniment setting"):
        build_configs('{"colour": 1}', tracks, args)
    with pytest.raises(CantorError, match="preset"):
        build_configs("huge", tracks, args)
    with pytest.raises(CantorError, match="bad accompaniment config"):
        build_configs('{"segment": 12}', tracks, args)


def test_unknown_data_is_a_clear_error(tmp_path):
    with pytest.raises(CantorError, match="jsb16:PATH"):
        train_accompany(argparse.Namespace(**{**vars(train_args(tmp_path, "x")), "data": "midi:x"}))
    with pytest.raises(CantorError, match="not found"):
        train_accompany(train_args(tmp_path, tmp_path / "absent.json"))


def test_learning_rate_decays_to_a_floor():
    from engine.training.accompany import cosine_lr

    assert cosine_lr(1e-3, 0.0) == pytest.approx(1e-3)
    assert cosine_lr(1e-3, 0.5) == pytest.approx(0.525e-3)
    assert cosine_lr(1e-3, 1.0) == cosine_lr(1e-3, 7.0) == pytest.approx(0.05e-3)


def test_a_new_run_never_replaces_a_trained_model_and_resume_needs_a_run(tmp_path):
    data = write_data(tmp_path)
    done = train_accompany(train_args(tmp_path, data, max_steps=2))
    model = Path(done["checkpoint"]).read_bytes()
    with pytest.raises(CantorError, match="already holds a model .*--resume"):
        train_accompany(train_args(tmp_path, data, max_steps=2))
    assert Path(done["checkpoint"]).read_bytes() == model
    with pytest.raises(CantorError, match="nothing to resume"):
        train_accompany(train_args(tmp_path / "other", data, max_steps=2, resume=True))


@pytest.mark.parametrize(("config", "message"), [
    ('{"preset": "tiny", "batch_size": -4}', "batch_size must be a whole number, more than 0"),
    ('{"preset": "tiny", "lr": "x"}', "lr must be a number"),
    ('{"preset": "tiny", "lr_decay": "no"}', "lr_decay must be true or false"),
])
def test_bad_accompaniment_settings_are_one_line_errors(tmp_path, config, message):
    with pytest.raises(CantorError, match=message):
        build_configs(config, {}, train_args(tmp_path, "unused"))
