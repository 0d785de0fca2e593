"""Voice-leading repair: redraw the notes that break part-writing rules, keep what helps.

Coconet's Gibbs sampler knows the style but not the textbook: its drafts carry parallel fifths and
octaves, crossings and wide spacings several times as often as Bach's chorales. Repair is a short
local search that uses the model as its proposal:

1. check each variant with `engine.music.counterpoint.check_score`;
2. the *region* of a variant is every generated note involved in a finding (for parallels, the
   notes of both sonorities), widened by `margin` steps each side, within the caller's mask;
3. a proposal rewrites the region by a few annealed Gibbs passes (the region only, starting from
   the current notes, as `Composer.polish` does);
4. a variant takes its proposal only when the proposal has fewer findings in all.

Only masked cells ever change, and each variant draws its randomness from its own seed, so a
variant's music does not depend on the batch it ran in. Every round costs `passes` forward passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.coconet.sampling import (
    CancelCheck,
    IndependentSampler,
    StepCallback,
    StepInfo,
    VariantRandom,
    YaoSchedule,
    _drawn_nll,
)
from engine.music.counterpoint import Report, check_score
from engine.music.score import Score

# Each variant's repair randomness is seeded apart from its sampling randomness.
SEED_OFFSET = 7_919


def note_span(score: Score, voice: int, step: int) -> tuple[int, int]:
    """[start, end) steps of the note of `voice` sounding at `step` (the step alone if silent)."""
    pitches, onsets = score.pitches[voice], score.onsets[voice]
    if pitches[step] < 0:
        return step, step + 1
    start = step
    while start > 0 and not onsets[start] and pitches[start - 1] == pitches[step]:
        start -= 1
    end = step + 1
    while end < len(pitches) and not onsets[end] and pitches[end] == pitches[step]:
        end += 1
    return start, end


def flagged_region(score: Score, mask: np.ndarray, report: Report, margin: int = 2) -> np.ndarray:
    """(4, T) bool: the generated cells of the notes in `report`'s findings, widened by `margin`."""
    region = np.zeros(score.pitches.shape, dtype=bool)
    for finding in report.findings:
        steps = [finding.step] if finding.previous is None else [finding.previous, finding.step]
        for voice in finding.voices:
            for step in steps:
                start, end = note_span(score, voice, step)
                region[voice, max(0, start - margin) : end + margin] = True
    return region & mask


@dataclass(frozen=True)
class Repairer:
    """`rounds` proposals per variant of `passes` Gibbs passes each over the flagged region."""

    rounds: int = 8
    passes: int = 24
    margin: int = 2
    temperature: float = 0.99
    schedule: YaoSchedule = field(default_factory=YaoSchedule)

    def __post_init__(self) -> None:
        if self.rounds < 0 or self.passes < 1 or self.margin < 0:
            raise ValueError(f"repair needs rounds >= 0, passes >= 1, margin >= 0; got {self!r}")

    def total_passes(self) -> int:
        return self.rounds * self.passes

    @torch.inference_mode()
    def run(
        self,
        model: torch.nn.Module,
        classes: torch.Tensor,
        mask: np.ndarray,
        seeds: Sequence[int],
        to_scores: Callable[[torch.Tensor], list[Score]],
        *,
        cell_nll: torch.Tensor | None = None,
        on_step: StepCallback | None = None,
        step_offset: int = 0,
        total: int | None = None,
        cancel: CancelCheck | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Repaired (N, 4, T) classes and their drawn NLLs, or None when cancelled.

        `to_scores` turns class tensors into the caller's scores (the checker works on pitches).
        """
        x = classes.clone()
        nll = torch.zeros(x.shape) if cell_nll is None else cell_nll.clone()
        total = total if total is not None else step_offset + self.total_passes()
        rng = VariantRandom([int(s) + SEED_OFFSET for s in seeds])
        sampler = IndependentSampler(self.temperature)
        num_classes = model.config.num_classes
        scores = to_scores(x)
        reports = [check_score(s) for s in scores]
        step = step_offset
        for _ in range(self.rounds):
            regions = np.stack([flagged_region(s, mask, r, self.margin)
                                for s, r in zip(scores, reports)])
            if not regions.any():
                break
            region = torch.from_numpy(regions)
            y, y_nll = x.clone(), nll.clone()
            for i in range(self.passes):
                if cancel is not None and cancel():
                    return None
                u = rng.uniform(x.shape[1], x.shape[2], num_classes + 1)
                inner = region & (u[..., num_classes] < self.schedule(i, self.passes))
                logits = model(y, inner).float()
                drawn = sampler(logits, u[..., :num_classes])
                y = torch.where(inner, drawn, y)
                y_nll = torch.where(inner, _drawn_nll(logits, drawn), y_nll)
                step += 1
                if on_step is not None:
                    on_step(StepInfo(step, total, y, inner, y_nll))
            proposed = to_scores(y)
            for k in np.flatnonzero(regions.any(axis=(1, 2))):
                report = check_score(proposed[k])
                if len(report.findings) < len(reports[k].findings):
                    x[k], nll[k] = y[k], y_nll[k]
                    scores[k], reports[k] = proposed[k], report
        if on_step is not None and step < total:  # stopped early: nothing left to repair
            on_step(StepInfo(total, total, x, torch.zeros(x.shape, dtype=torch.bool), nll))
        return x, nll

