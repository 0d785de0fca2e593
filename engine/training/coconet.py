"""Train a Coconet: Adam on orderless-masked random crops, time-boxed, resumable, DDP-aware.

Loss: for each example, the mean NLL over its masked cells (Coconet's rescaling; unmasked cells do
not count, silent cells do, as the silence class), averaged over the batch. Validation: the
orderless NLL per non-silent cell on the whole valid pieces with a fixed seed (engine/training/evaluate.py),
so successive validations are paired; the best one is kept in `best.pt` (a coconet checkpoint),
and `last.pt` holds everything a `--resume` needs (weights, optimizer, random state, history).
The learning rate warms up linearly, then follows a cosine from `lr` to `lr * final_lr_fraction`
over the time box (or `--max-steps`); a resumed run restarts that cosine over the new box.
Under `torchrun --nproc_per_node N` every process trains on its own crops and gradients are
averaged by DistributedDataParallel (gloo on CPU, nccl on GPU); rank 0 validates and saves.
Every random draw (initial weights, crops, transpositions, masks) comes from `--seed`, so a run
with `--max-steps` on one process repeats exactly; a `--minutes` box stops at a wall-clock step.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from engine.coconet.checkpoint import load_checkpoint, save_checkpoint
from engine.coconet.loading import coconet_payload
from engine.coconet.masks import distilled_nll, make_mask, masked_nll
from engine.coconet.model import Coconet, config_from_dict
from engine.training.coconet_config import (  # noqa: F401 (re-exported: the trainer's settings)
    DEFAULT_PRESET,
    PRESETS,
    PROBE_BATCHES,
    SETTING_RANGES,
    VALIDATION_KEYS,
    TrainError,
    TrainSettings,
    check_settings,
    config_values,
    learning_rate,
    parse_config,
    resumed_overrides,
    settings_from_args,
)
from engine.training.datasets import CropSampler, DataError, load_data, pieces_to_classes
from engine.training.distributed import Distributed, git_commit
from engine.training.ema import WeightAverage
from engine.training.evaluate import format_nll, orderless_nll
from engine.training.run_folder import claim_run_folder, saved_best
from engine.training.structure_setup import initial_weights, load_teacher, structured_samplers

TRAIN_STATE_KIND = "coconet-train"

class TrainRun:
    """One training run of `cantor train coconet` (see the module docstring)."""

    def __init__(self, args) -> None:
        self.args = args
        self.dist = Distributed()
        self.out = Path(getattr(args, "out", None) or "runs/coconet")
        if not getattr(args, "resume", False):
            parse_config(getattr(args, "config", None))  # a bad --config before anything else
        self._lock = claim_run_folder(self.out, getattr(args, "resume", False)) if self.dist.main else None
        threads = getattr(args, "threads", None) or min(2, os.cpu_count() or 1)
        torch.set_num_threads(threads)
        self.threads = threads
        self.data = load_data(args.data)
        self.train_pieces = pieces_to_classes(self.data.split("train"))
        self.valid_pieces = pieces_to_classes(self.data.split("valid"))
        if not self.valid_pieces:
            raise DataError("the data has no valid pieces within the model's range")
        self.step = 0
        self.seconds = 0.0  # training wall time over all sessions of this run
        self.history: list[dict] = []
        self.best: float | None = None
        state = self._load_state() if getattr(args, "resume", False) else None
        if state is None:
            config, overrides = parse_config(getattr(args, "config", None))
        else:
            config = config_from_dict(state["config"])
            changed = resumed_overrides(getattr(args, "config", None), config)
            for key in VALIDATION_KEYS:
                if key in changed and changed[key] != state["settings"].get(key):
                    raise TrainError(f"a resumed run keeps its validation: {key} is"
                                     f" {state['settings'].get(key)!r}, so that best.pt's figure"
                                     " compares with the new ones")
            overrides = {**state["settings"], **changed}
        self.settings = settings_from_args(args, overrides)
        seed = int(getattr(args, "seed", 0) or 0)
        torch.manual_seed(seed)  # same initial weights in every process
        self.model = Coconet(config)
        self.teacher = load_teacher(self.settings.teacher, config) if self.settings.teacher else None
        self.structures = self.valid_structures = None
        if self.settings.structure:
            self.sampler, self.valid_structures = structured_samplers(
                args.data, self.data, self.settings, config)
        else:
            self.sampler = CropSampler(self.train_pieces, self.settings.crop, self.settings.max_shift)
        init = getattr(args, "init", None)
        if init and state is None:
            self.model = initial_weights(init, config, self.settings.init_layers,
                                         probe=lambda: self._probe(seed))
        self.generator = torch.Generator().manual_seed(seed * 1_000_003 + self.dist.rank)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.settings.lr)
        self.average = WeightAverage(self.model, self.settings.ema)
        if state is not None:
            self._restore(state)
        self.net = self.dist.wrap(self.model)

    # -- state -------------------------------------------------------------------------------
    def _load_state(self) -> dict | None:
        path = self.out / "last.pt"
        if not path.is_file():
            raise TrainError(f"nothing to resume: {path} does not exist (drop --resume)")
        return load_checkpoint(path, TRAIN_STATE_KIND)

    def _restore(self, state: dict) -> None:
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        generators = state["generators"]
        if self.dist.rank < len(generators):
            self.generator.set_state(generators[self.dist.rank])
        self.step, self.seconds = int(state["step"]), float(state["seconds"])
        self.history, self.best = list(state["history"]), state["best"]
        self.average.load_state_dict(state.get("ema_state_dict"))
        kept = saved_best(self.out / "best.pt")
        if kept is not None and (self.best is None or kept < self.best):
            self.best = kept  # best.pt was saved but last.pt not (a full disk): it is the bar

    def command(self) -> str:
        """The command line of this run as a user would type it."""
        launcher = (f"torchrun --standalone --nproc_per_node {self.dist.world} cli.py"
                    if self.dist.world > 1 else "cantor")
        return " ".join([launcher, *(shlex.quote(a) for a in sys.argv[1:])])

    def provenance(self) -> dict:
        return {**self.data.provenance, "split": "train", "git_commit": git_commit(),
                "command": self.command(),
                "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                "cpus": os.cpu_count(), "threads": self.threads, "processes": self.dist.world,
                "settings": asdict(self.settings)}

    def _save(self, val: dict | None, loss: float, generators: list) -> None:
        metrics = {"train_loss": loss, "minutes": round(self.seconds / 60, 2), "steps": self.step}
        if val is not None:
            metrics.update(valid_nll=val["nll_per_cell"],
                           valid_nll_with_silence=val["nll_per_cell_with_silence"],
                           valid_draws=val["draws"], valid_seed=val["seed"])
            improved = self.best is None or val["nll_per_cell"] < self.best
            if improved:
                self.best = val["nll_per_cell"]
                payload = coconet_payload(self.average.model, step=self.step, metrics=metrics,
                                          data=self.provenance())
                save_checkpoint(self.out / "best.pt", payload)
        state = coconet_payload(self.model, step=self.step, metrics=metrics,
                                data=self.provenance())
        state.update(kind=TRAIN_STATE_KIND, optimizer=self.optimizer.state_dict(),
                     settings=asdict(self.settings), seconds=self.seconds,
                     history=self.history, best=self.best, generators=generators,
                     ema_state_dict=self.average.state_dict())
        save_checkpoint(self.out / "last.pt", state)

    def _generators(self) -> list:
        if self.dist.world == 1:
            return [self.generator.get_state()]
        states = [torch.empty(0, dtype=torch.uint8) for _ in range(self.dist.world)]
        torch.distributed.all_gather_object(states, self.generator.get_state())
        return states

    # -- loop --------------------------------------------------------------------------------
    def _batch(self, generator) -> tuple:
        """(classes, mask, cond or None, cadence or None) of one training batch."""
        s = self.settings
        if s.structure:
            classes, inside, cond, cadence = self.sampler.sample(s.batch_size, generator)
            return classes, make_mask(s.mask, s.batch_size, s.crop, generator) & inside, cond, cadence
        classes = torch.from_numpy(self.sampler.sample(s.batch_size, generator))
        return classes, make_mask(s.mask, s.batch_size, s.crop, generator), None, None

    def _probe(self, seed: int, batches: int = PROBE_BATCHES) -> list[tuple]:
        """Training batches drawn apart from the training stream (pruning measures on them)."""
        generator = torch.Generator().manual_seed(seed * 1_000_003 + 777)
        return [self._batch(generator)[:3] for _ in range(batches)]

    def train_step(self, fraction: float) -> float:
        s = self.settings
        weights = None
        classes, mask, cond, cadence = self._batch(self.generator)
        if cadence is not None and s.cadence_weight != 1.0:
            weights = torch.where(cadence, s.cadence_weight, 1.0)
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(s, self.step, fraction)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=s.bf16):
            logits = self.net(classes, mask) if cond is None else self.net(classes, mask, cond)
            if self.teacher is not None:
                with torch.no_grad():
                    target = self.teacher(classes, mask) if cond is None else self.teacher(
                        classes, mask, cond)
        if self.teacher is None:
            loss = masked_nll(logits, classes, mask, weights).mean()
        else:
            loss = distilled_nll(logits, target, mask, weights).mean()
        if not torch.isfinite(loss):
            raise TrainError(f"the training loss became {loss.item()} at step {self.step}: the run"
                             " diverged (lower --lr or grad_clip); best.pt and last.pt keep the last"
                             " finite state")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), s.grad_clip)
        self.optimizer.step()
        self.average.update(self.model)
        self.step += 1
        return loss.item()

    def validate(self) -> dict:
        pieces = self.valid_pieces[:self.settings.val_pieces or None]
        structures = self.valid_structures[:len(pieces)] if self.valid_structures else None
        return orderless_nll(self.average.model, pieces, draws=self.settings.val_draws,
                             seed=self.settings.val_seed, structures=structures)

    def run(self) -> dict:
        args = self.args
        minutes = getattr(args, "minutes", None)
        max_steps = getattr(args, "max_steps", None)
        budget = minutes * 60 if minutes else None
        first_step, started = self.step, time.perf_counter()
        self.seconds_at_start = self.seconds
        last_val = started
        loss_avg, val = None, None
        report = Reporter(self.dist.main, budget, max_steps, first_step)
        self.model.train()
        try:
            while True:
                elapsed = time.perf_counter() - started
                done = (budget is not None and elapsed >= budget) or (
                    max_steps is not None and self.step - first_step >= max_steps)
                if self.dist.agree(done):
                    break
                fraction = (elapsed / budget if budget else
                            (self.step - first_step) / max_steps if max_steps else 0.0)
                if self.settings.schedule_minutes:  # one cosine across resumed sessions
                    fraction = (self.seconds_at_start + elapsed) / (self.settings.schedule_minutes * 60)
                loss = self.train_step(fraction)
                loss_avg = loss if loss_avg is None else 0.98 * loss_avg + 0.02 * loss
                now = time.perf_counter()
                due = now - last_val >= self.settings.val_every_minutes * 60
                if self.dist.agree(due):
                    val = self._checkpoint(loss_avg, now - started)
                    last_val = time.perf_counter()
                report.update(self.step, loss_avg, self.best, time.perf_counter() - started)
            total = time.perf_counter() - started
            val = self._checkpoint(loss_avg if loss_avg is not None else float("nan"), total)
        except KeyboardInterrupt:
            if self.dist.world == 1 and self.step > first_step and loss_avg is not None:
                self.seconds = self.seconds_at_start + time.perf_counter() - started
                self._save(None, loss_avg, self._generators())  # --resume goes on from here
                print(f"cantor: saved {self.out / 'last.pt'} at step {self.step}", file=sys.stderr)
            raise
        finally:
            report.close()
            self.dist.close(together=sys.exc_info()[0] is None)
        return {"step": self.step, "minutes": round(self.seconds / 60, 2), "best": self.best,
                "last": val["nll_per_cell"] if val else None, "out": str(self.out)}

    def _checkpoint(self, loss: float, session_seconds: float) -> dict | None:
        """Validate and save on rank 0 (the others wait at the next collective)."""
        self.seconds = self.seconds_at_start + session_seconds
        val = None
        if self.dist.main:
            val = self.validate()
            if not math.isfinite(val["nll_per_cell"]) or not all(
                    bool(torch.isfinite(p).all()) for p in self.model.parameters()):
                raise TrainError(f"the validation NLL is {val['nll_per_cell']} at step {self.step}:"
                                 " the run diverged (lower --lr or grad_clip); nothing was saved,"
                                 " best.pt and last.pt keep the last finite state")
            self.history.append({"step": self.step, "minutes": round(self.seconds / 60, 3),
                                 "train_loss": round(loss, 5), "valid_nll": val["nll_per_cell"]})
            self.out.mkdir(parents=True, exist_ok=True)
            with open(self.out / "log.jsonl", "a") as log:
                log.write(json.dumps(self.history[-1]) + "\n")
        generators = self._generators()  # a collective under DDP: every rank takes part
        if self.dist.main:
            self._save(val, loss, generators)
        return val


class Reporter:
    """A rich progress line on a terminal, a plain log line every 30 s otherwise (rank 0 only)."""

    def __init__(self, enabled: bool, budget: float | None, max_steps: int | None, first: int):
        self.enabled, self.budget, self.max_steps, self.first = enabled, budget, max_steps, first
        self.progress = None
        self.last_line = 0.0
        if not enabled:
            return
        from rich.console import Console

        self.console = Console(stderr=True)
        if self.console.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn

            self.progress = Progress(TextColumn("[bold]train"), BarColumn(),
                                     TextColumn("{task.fields[info]}"), console=self.console)
            self.task = self.progress.add_task("train", total=1.0, info="starting")
            self.progress.start()

    def update(self, step: int, loss: float, best: float | None, elapsed: float) -> None:
        if not self.enabled:
            return
        fraction = (elapsed / self.budget if self.budget else
                    (step - self.first) / self.max_steps if self.max_steps else 0.0)
        eta = elapsed / fraction - elapsed if fraction > 0 else float("nan")
        info = (f"step {step}  loss {loss:.4f}  val NLL {format_nll(best)}  "
                f"ETA {_clock(eta)}")
        if self.progress is not None:
            self.progress.update(self.task, completed=min(1.0, fraction), info=info)
        elif time.perf_counter() - self.last_line >= 30:
            self.last_line = time.perf_counter()
            print(f"[{_clock(elapsed)}] {info}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--:--"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def train_coconet(args) -> dict:
    """Run `cantor train coconet` with the parsed arguments; returns a summary."""
    return TrainRun(args).run()
