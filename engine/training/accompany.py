"""Training of the accompaniment predictor: first the VAE, then the surrogate on the frozen VAE.

`train_accompany(args)` is what `cantor train accompany` runs. Conventions as for Coconet: one
resumable state file in `--out`, a time budget (`--minutes`), a progress bar, the same result for
the same `--seed` (and thread count), and DDP when started under torchrun (WORLD_SIZE > 1).
Outputs in `--out`: `accompany.pt` (the model, self-describing) and `accompany_state.pt` (resume).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from engine.accompany.model import (
    AccompanimentVAE,
    AccompanyConfig,
    SurrogateEncoder,
    kl_per_dim,
    reconstruction_loss,
)
from engine.coconet.checkpoint import load_checkpoint, save_checkpoint
from engine.errors import CantorError
from engine.training.accompany_data import SegmentSampler, fixed_segments, load_data
from engine.training.accompany_eval import surrogate_metrics, vae_metrics
from engine.training.distributed import Distributed

STATE_KIND = "accompany_state"
PRESETS = {
    "tiny": {"embed": 8, "width": 16, "latent": 8, "surrogate_width": 16, "segment": 16},
    "small": {"embed": 16, "width": 64, "latent": 32, "surrogate_width": 64},
    "default": {},
}


@dataclass
class TrainAccompanyConfig:
    """How the accompaniment predictor is trained; saved beside the weights."""

    batch_size: int = 64
    """Segments per optimisation step (per process under DDP)."""
    lr: float = 1e-3
    """Adam learning rate of both phases (the peak, with lr_decay)."""
    lr_decay: bool = True
    """Cosine decay of the learning rate over each phase, down to 5% of lr."""
    vae_steps: int = 30000
    """Steps of the VAE phase (--max-steps sets it)."""
    surrogate_steps: int = 15000
    """Steps of the surrogate phase (--max-steps sets it too)."""
    beta: float = 1.0
    """Weight of the KL term after the warm-up."""
    warmup_steps: int = 2000
    """Steps over which the KL weight rises linearly from 0 to beta (against posterior collapse)."""
    free_bits: float = 0.05
    """Nats per latent dimension below which the KL is not penalised (against posterior collapse)."""
    transpose: int = 6
    """Random transposition of each training segment, +- semitones."""
    surrogate_share: float = 0.35
    """Share of --minutes given to the surrogate phase."""
    eval_every: int = 500
    """Steps between validation passes (and log lines)."""
    save_every_s: float = 120.0
    """Seconds between state saves."""

    def with_flags(self, args) -> TrainAccompanyConfig:
        """This config with --batch-size, --lr and --max-steps applied."""
        if getattr(args, "batch_size", None):
            self.batch_size = int(args.batch_size)
        if getattr(args, "lr", None):
            self.lr = float(args.lr)
        if getattr(args, "max_steps", None):
            self.vae_steps = self.surrogate_steps = int(args.max_steps)
        return self


def read_config_spec(spec) -> dict:
    """--config: a preset name, a JSON object, or a JSON file; {"preset": name, ...} extends one."""
    if not spec:
        return {}
    spec = str(spec)
    if spec in PRESETS:
        return dict(PRESETS[spec])
    try:
        found = json.loads(spec) if spec.lstrip().startswith("{") else json.loads(Path(spec).read_text())
    except (OSError, ValueError) as exc:
        raise CantorError(
            f"--config must be a preset ({', '.join(PRESETS)}), a JSON object or a JSON file; got {spec}"
        ) from exc
    if not isinstance(found, dict):
        raise CantorError("--config JSON must be an object of settings")
    preset = found.pop("preset", None)
    if preset is not None and preset not in PRESETS:
        raise CantorError(f"unknown accompaniment preset {preset!r}: choose {', '.join(PRESETS)}")
    return {**PRESETS.get(preset, {}), **found}


def build_configs(spec, tracks: dict, args) -> tuple[AccompanyConfig, TrainAccompanyConfig]:
    """Model and training configs from --config (either's fields), the data's tracks, and flags."""
    settings = read_config_spec(spec)
    model_keys = {f.name for f in fields(AccompanyConfig)}
    train_keys = {f.name for f in fields(TrainAccompanyConfig)}
    unknown = sorted(set(settings) - model_keys - train_keys)
    if unknown:
        raise CantorError(f"unknown accompaniment setting {unknown[0]!r} in --config")
    _check_values(settings, {f.name: f.type for f in (*fields(AccompanyConfig),
                                                       *fields(TrainAccompanyConfig))})
    try:
        config = AccompanyConfig(**{k: v for k, v in settings.items() if k in model_keys}, **tracks)
        train_config = TrainAccompanyConfig(**{k: v for k, v in settings.items() if k in train_keys})
    except (TypeError, ValueError) as exc:
        raise CantorError(f"bad accompaniment config: {exc}") from exc
    return config, train_config.with_flags(args)


# Settings that may be 0; every other number must be more than 0.
_MAY_BE_ZERO = {"surrogate_steps", "vae_steps", "beta", "warmup_steps", "free_bits", "transpose",
                "surrogate_share"}


def _check_values(settings: dict, kinds: dict) -> None:
    """Refuse a setting of the wrong type, or a negative or zero size, before any data loads."""
    for key, value in settings.items():
        kind = kinds.get(key)
        if kind == "bool":
            if not isinstance(value, bool):
                raise CantorError(f"accompaniment setting {key} must be true or false; got {value!r}")
        elif kind in ("int", "float"):
            number = isinstance(value, int) if kind == "int" else isinstance(value, (int, float))
            if isinstance(value, bool) or not number or not math.isfinite(value) or (
                    value < 0 if key in _MAY_BE_ZERO else value <= 0):
                whole = "a whole number" if kind == "int" else "a number"
                least = "0 or more" if key in _MAY_BE_ZERO else "more than 0"
                raise CantorError(f"accompaniment setting {key} must be {whole}, {least};"
                                  f" got {value!r}")


class _Run:
    """The mutable state of one training run (models, optimisers, counters, random generators)."""

    def __init__(self, config, train_config, seed, rank):
        torch.manual_seed(seed)
        self.config, self.train_config = config, train_config
        self.vae = AccompanimentVAE(config)
        self.surrogate = SurrogateEncoder(config)
        self.vae_opt = torch.optim.Adam(self.vae.parameters(), lr=train_config.lr)
        self.sur_opt = torch.optim.Adam(self.surrogate.parameters(), lr=train_config.lr)
        self.phase, self.vae_step, self.sur_step = "vae", 0, 0
        self.rng = np.random.default_rng(seed + 1000 * rank)
        self.metrics: dict = {}
        self.latent_sigma: list[float] | None = None

    def state(self, data: dict) -> dict:
        return {
            "kind": STATE_KIND,
            "config": self.config.to_dict(),
            "state_dict": {"vae": self.vae.state_dict(), "surrogate": self.surrogate.state_dict()},
            "optim": {"vae": self.vae_opt.state_dict(), "surrogate": self.sur_opt.state_dict()},
            "phase": self.phase,
            "step": {"vae": self.vae_step, "surrogate": self.sur_step},
            "rng": {"numpy": self.rng.bit_generator.state, "torch": torch.get_rng_state()},
            "metrics": self.metrics,
            "train_config": asdict(self.train_config),
            "data": data,
            "latent_sigma": self.latent_sigma,
        }

    def restore(self, state: dict) -> None:
        self.vae.load_state_dict(state["state_dict"]["vae"])
        self.surrogate.load_state_dict(state["state_dict"]["surrogate"])
        self.vae_opt.load_state_dict(state["optim"]["vae"])
        self.sur_opt.load_state_dict(state["optim"]["surrogate"])
        self.phase = state["phase"]
        self.vae_step, self.sur_step = state["step"]["vae"], state["step"]["surrogate"]
        self.rng.bit_generator.state = state["rng"]["numpy"]
        torch.set_rng_state(state["rng"]["torch"])
        self.metrics, self.latent_sigma = state["metrics"], state["latent_sigma"]


def half_precision(state: dict) -> dict:
    """Float tensors of a state dict in float16; integer buffers unchanged."""
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def model_payload(run: _Run, data: dict) -> dict:
    """The shipped checkpoint: configs, both weights, steps, metrics, data provenance."""
    return {
        "kind": "accompany",
        "config": run.config.to_dict(),
        # Half precision halves the shipped file; loading copies the values into float32 modules.
        "state_dict": {
            "vae": half_precision(run.vae.state_dict()),
            "surrogate": half_precision(run.surrogate.state_dict()),
        },
        "latent_sigma": run.latent_sigma or [1.0] * run.config.latent,
        "step": {"vae": run.vae_step, "surrogate": run.sur_step},
        "metrics": run.metrics,
        "data": data,
        "train_config": asdict(run.train_config),
        "melody_range": run.melody_range,
    }


def melody_range(pieces, config: AccompanyConfig) -> list[int] | None:
    """Lowest and highest melody pitch of the training pieces (None for an unpitched melody)."""
    low, silence = config.track_low[0], config.silence_class(0)
    if low < 0:
        return None
    values = np.concatenate([p[0][p[0] != silence] for p in pieces])
    return [int(values.min()) + low, int(values.max()) + low] if values.size else None


def _progress(enabled: bool):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        disable=not enabled,
    )


def train_accompany(args) -> dict | None:
    """Train (or resume) the accompaniment predictor; returns the checkpoint path and metrics."""
    if getattr(args, "threads", None):
        torch.set_num_threads(int(args.threads))
    seed = int(getattr(args, "seed", None) or 0)
    dist = Distributed()
    rank = dist.rank
    out = Path(getattr(args, "out", None) or "runs/accompany")
    state_path, model_path = out / "accompany_state.pt", out / "accompany.pt"
    wants_resume = getattr(args, "resume", False)
    if wants_resume and not state_path.is_file():
        raise CantorError(f"nothing to resume: {state_path} does not exist (drop --resume)")
    if wants_resume and getattr(args, "config", None) and dist.main:
        print("note: a resumed run keeps its saved network and settings; --config is not used"
              " (--minutes and --max-steps extend it)", file=sys.stderr)
    from engine.training.run_folder import claim_run_folder

    # The folder before the data: a run there is only resumed, and one training writes it at once.
    _lock = claim_run_folder(out, wants_resume) if dist.main else None
    if not wants_resume and (out / "accompany.pt").exists():
        raise CantorError(f"--out {out} already holds a model (accompany.pt): continue its run with"
                          " --resume, or give another --out")
    dataset = load_data(args.data)
    data_info = {**dataset.provenance, "spec_kind": args.data.partition(":")[0],
                 "train_pieces": len(dataset.train), "valid_pieces": len(dataset.valid)}
    resume = wants_resume
    if resume:
        state = load_checkpoint(state_path, STATE_KIND)
        config = AccompanyConfig.from_dict(state["config"])
        known = {f.name for f in fields(TrainAccompanyConfig)}
        saved = {k: v for k, v in state["train_config"].items() if k in known}
        train_config = TrainAccompanyConfig(**saved).with_flags(args)
    else:
        config, train_config = build_configs(getattr(args, "config", None), dataset.tracks, args)
    run = _Run(config, train_config, seed, rank)
    if resume:
        run.restore(state)
        # More steps asked for than were done: continue the unfinished phase (a longer VAE phase
        # means the surrogate trains again on the changed VAE).
        if run.vae_step < train_config.vae_steps:
            run.phase = "vae"
        elif run.sur_step < train_config.surrogate_steps:
            run.phase = "surrogate"
    run.melody_range = melody_range(dataset.train, config)
    sampler = SegmentSampler(dataset.train, config, transpose=train_config.transpose)
    valid = torch.from_numpy(fixed_segments(dataset.valid, config, limit=1024))
    minutes = getattr(args, "minutes", None)
    deadline = time.monotonic() + 60.0 * minutes if minutes else None
    talk = rank == 0
    with _progress(talk) as bar:
        if run.phase == "vae":
            vae_deadline = None
            if deadline is not None:
                vae_deadline = time.monotonic() + 60.0 * minutes * (1 - train_config.surrogate_share)
            _train_vae(run, sampler, valid, dist, bar, vae_deadline, state_path, data_info, talk)
            if run.phase == "vae":  # time ran out before the planned steps
                run.phase = "surrogate"
            if talk:
                save_checkpoint(state_path, run.state(data_info))
        if run.phase == "surrogate":
            _train_surrogate(run, sampler, valid, dist, bar, deadline, state_path, data_info, talk)
            run.phase = "done"
    if talk:
        save_checkpoint(state_path, run.state(data_info))
        save_checkpoint(model_path, model_payload(run, data_info))
        print(f"saved {model_path}")
        return {"checkpoint": str(model_path), **run.metrics}
    return None  # other DDP ranks: rank 0 reports


def cosine_lr(base: float, done: float, floor: float = 0.05) -> float:
    """Cosine decay from `base` to `floor * base` as `done` goes from 0 to 1."""
    done = min(1.0, max(0.0, done))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * done)))


def _loop(run, bar, label, total, start, deadline, step_fn, eval_fn, save, optimizer):
    """Shared loop: step until `total` or the deadline, evaluating and saving on the way.

    The learning rate follows a cosine over the phase: over its steps, or over the time left
    when a --minutes budget ends it sooner."""
    task = bar.add_task(label, total=total, completed=start, info="")
    began = last_save = time.monotonic()
    step = start
    while step < total and (deadline is None or time.monotonic() < deadline):
        done = step / max(1, total)
        if deadline is not None:
            done = max(done, (time.monotonic() - began) / max(1e-9, deadline - began))
        if run.train_config.lr_decay:
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(run.train_config.lr, done)
        info = step_fn(step)
        step += 1
        if step % run.train_config.eval_every == 0 or step == total:
            info = eval_fn(step)
            print(f"{label} step {step}: {info}", flush=True)
        bar.update(task, completed=step, info=info)
        if time.monotonic() - last_save > run.train_config.save_every_s:
            save(step)
            last_save = time.monotonic()
    return step


def _train_vae(run, sampler, valid, dist, bar, deadline, state_path, data, talk):
    tc, config = run.train_config, run.config
    model = dist.wrap(run.vae)
    run.vae.train()

    def step_fn(step):
        batch = torch.from_numpy(sampler.batch(run.rng, tc.batch_size))
        logits, mu, logvar = model(batch)
        recon = reconstruction_loss(logits, batch, config)
        kl = kl_per_dim(mu, logvar)
        beta = tc.beta * min(1.0, (step + 1) / max(1, tc.warmup_steps))
        loss = recon + beta * kl.clamp(min=tc.free_bits).sum()
        run.vae_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.vae.parameters(), 1.0)
        run.vae_opt.step()
        return f"recon {recon.item():.2f} kl {kl.sum().item():.2f}"

    def eval_fn(step):
        run.vae_step = step
        run.metrics.update(vae_metrics(run.vae, valid))
        run.vae.train()
        m = run.metrics
        return f"val acc {m['vae_recon_accuracy']:.3f} kl {m['vae_kl_nats']:.1f}"

    def save(step):
        run.vae_step = step
        if talk:
            save_checkpoint(state_path, run.state(data))

    run.vae_step = _loop(
        run, bar, "VAE", tc.vae_steps, run.vae_step, deadline, step_fn, eval_fn, save, run.vae_opt
    )
    if run.vae_step >= tc.vae_steps:
        run.phase = "surrogate"
    run.metrics.update(vae_metrics(run.vae, valid))


def _train_surrogate(run, sampler, valid, dist, bar, deadline, state_path, data, talk):
    tc = run.train_config
    run.vae.eval()
    for p in run.vae.parameters():
        p.requires_grad_(False)
    model = dist.wrap(run.surrogate)
    run.surrogate.train()
    # Predict-the-mean baseline: the mean mu of many training segments.
    with torch.no_grad():
        probe = torch.from_numpy(sampler.batch(np.random.default_rng(12345), 2048))
        mean_mu = run.vae.encode(probe)[0].mean(0)

    def step_fn(step):
        batch = torch.from_numpy(sampler.batch(run.rng, tc.batch_size))
        with torch.no_grad():
            target = run.vae.encode(batch)[0]
        loss = torch.nn.functional.mse_loss(model(batch[:, 0]), target)
        run.sur_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.surrogate.parameters(), 1.0)
        run.sur_opt.step()
        return f"mse {loss.item():.3f}"

    def eval_fn(step):
        run.sur_step = step
        found, sigma = surrogate_metrics(run.vae, run.surrogate, valid, mean_mu)
        run.metrics.update(found)
        run.latent_sigma = sigma
        run.surrogate.train()
        m = run.metrics
        return f"val mse {m['surrogate_mse']:.3f} (mean {m['surrogate_mse_mean_baseline']:.3f})" + (
            f" draft acc {m['draft_accuracy']:.3f} (mean code {m['draft_accuracy_mean_code']:.3f})"
        )

    def save(step):
        run.sur_step = step
        if talk:
            save_checkpoint(state_path, run.state(data))

    run.sur_step = _loop(
        run, bar, "surrogate", tc.surrogate_steps, run.sur_step, deadline, step_fn, eval_fn, save,
        run.sur_opt,
    )
    eval_fn(run.sur_step)
