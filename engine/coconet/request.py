"""`Request`: one generation request's shared state, between `Composer` and the samplers.

The Composer frames the caller's score (engine/coconet/framing.py), places it in the model's range
and builds one Request; the variants are then drawn through it, one batch at a time or side by
side (engine/coconet/lanes.py). A Request plans a batch's passes (sampling, then repair), reports
progress in the caller's steps and pitches, and ranks what it drew by the model's pseudo-NLL.
"""

from __future__ import annotations

import numpy as np

from engine.coconet.framing import frame
from engine.coconet.ranges import _user_pitches
from engine.coconet.results import Progress, Variant
from engine.music.score import Score


class Request:
    """One request's shared state: the model input, the mask and how to report progress."""

    cond = None  # the model's own structure planes (framing.py), or None
    model = None  # what samples and repairs: the model with the rest rule, if any (rests.py)
    guarded_cond = None  # its planes: `cond` and the rule's
    repair_model = None  # what draws the repair proposals (Composer.repair_net), guarded alike
    ties = None  # tied cells of a harmonic rhythm (ties.py), framed like `classes`

    def __init__(self, composer, score, mask, offsets, classes, progress, want_confidence, cancel,
                 edge=0):
        """`score` and `mask` are the caller's; `classes` are framed by `edge` steps each side
        (framing.py), and so are `framed_mask`, `mask_t` and every tensor the samplers see."""
        import torch

        self.composer, self.score, self.mask, self.offsets = composer, score, mask, offsets
        self.edge = edge
        self.framed_mask = frame(score, mask, edge)[1]
        self.classes, self.mask_t = classes, torch.from_numpy(self.framed_mask)
        self.progress, self.want_confidence, self.cancel = progress, want_confidence, cancel

    def inner(self, array: np.ndarray) -> np.ndarray:
        """The caller's steps of a framed (..., T + 2 edge) array."""
        return array[..., self.edge:array.shape[-1] - self.edge] if self.edge else array

    def user_pitches(self, classes) -> np.ndarray:
        """(N, 4, T) MIDI pitches of framed model classes, kept cells from the caller's score."""
        return _user_pitches(self.inner(classes.numpy()), self.offsets, self.score.pitches, self.mask)

    def framed_scores(self, drafts) -> list[Score]:
        """Framed scores of framed drafts (what the repair checks, cell for cell with `mask_t`)."""
        return [frame(s, self.mask, self.edge)[0] for s in self.to_scores(drafts)]

    def cancelled(self) -> bool:
        return self.cancel is not None and bool(self.cancel())

    def to_scores(self, drafts) -> list[Score]:
        return [self.score.with_cells(self.mask, p) for p in self.user_pitches(drafts)]

    def reporter(self, offset: int, total: int):
        """A sampler callback that reports steps `offset`+1.. out of `total` for all batches."""
        if self.progress is None:
            return None

        def report(info) -> None:
            self.progress(self.progress_of(info, offset + info.step, total))

        return report

    def progress_of(self, info, step: int, total: int) -> Progress:
        """The caller's Progress of a sampler's StepInfo, at `step` of `total`."""
        from engine.coconet.sampling import mean_over

        nll = self.inner(info.cell_nll.numpy())
        return Progress(
            step=step,
            total=total,
            pitches=self.user_pitches(info.classes),
            changed=self.inner(info.changed.numpy()).copy(),
            scores=mean_over(info.cell_nll, self.mask_t).numpy(),
            confidence=np.where(self.mask, np.exp(-nll), 1.0).astype(np.float32)
            if self.want_confidence else None,
        )

    def plan(self, *, sampler, steps, temperature, fill, repair, repair_passes, patience,
             repair_misses, cool=None, repair_context=None):
        """(sampler, repairer, sampling passes) of a request; a batch of variants reports
        sampling + repairer.total_passes() steps."""
        from engine.coconet.repair import Repairer
        from engine.coconet.sampling import make_sampler

        runner = make_sampler(sampler, steps, temperature, patience, cool)
        repairer = Repairer(rounds=repair, passes=repair_passes, temperature=temperature,
                            window=self.composer.window, misses=repair_misses, cool=cool,
                            context=repair_context)
        return runner, repairer, runner.passes(int(self.mask.sum()), fill)

    def passes_per_variant(self, **options) -> int:
        """Forward passes one batch of variants reports (sampling, then every repair round)."""
        _, repairer, sampling = self.plan(**options)
        return sampling + repairer.total_passes()

    def variants(self, seeds, number, batches, *, sampler, steps, temperature, fill, repair,
                 repair_passes, patience, repair_misses, cool=None, repair_context=None,
                 report=None) -> list[Variant] | None:
        """Sample, repair and score the variants of `seeds` (batch `number` of `batches`);
        `report` replaces the progress callback (lanes.py: one for all lanes)."""
        from engine.coconet.sampling import Draw, mean_over, pseudo_nll

        composer, model = self.composer, self.model
        runner, repairer, sampling = self.plan(
            sampler=sampler, steps=steps, temperature=temperature, fill=fill, repair=repair,
            repair_passes=repair_passes, patience=patience, repair_misses=repair_misses, cool=cool,
            repair_context=repair_context)
        per_batch = sampling + repairer.total_passes()
        offset, total = number * per_batch, batches * per_batch
        report = self.reporter(offset, total) if report is None else report
        with composer.sampling_precision():
            tied = {} if self.ties is None else {"ties": self.ties}
            draw = runner.run(model, self.classes, self.mask_t, seeds, fill=fill,
                              on_step=report, cancel=self.cancel, cond=self.guarded_cond,
                              window=composer.window, **tied)
            if draw is not None and repairer.rounds:
                fixed = repairer.run(self.repair_model or model, draw.classes, self.framed_mask, seeds,
                                     self.framed_scores,
                                     cell_nll=draw.cell_nll, on_step=report,
                                     step_offset=sampling, total=per_batch,
                                     cancel=self.cancel, cond=self.guarded_cond, ties=self.ties)
                draw = None if fixed is None else Draw(*fixed)
        if draw is None or self.cancelled():
            return None
        # Ranked by the net that samples, as `Composer.nll` scores cells (the rest rule only
        # samples, so the unguarded net).
        nll = mean_over(pseudo_nll(composer.sampling_model, draw.classes, self.mask_t, cond=self.cond,
                                   window=composer.window), self.mask_t).tolist()
        pitches = self.user_pitches(draw.classes)
        return [Variant(self.score.with_cells(self.mask, pitches[k]), float(nll[k]), seeds[k])
                for k in range(len(seeds))]
