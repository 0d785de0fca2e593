"""Harmonic rhythm: generated voices change notes only where a new chord may start.

Coconet left alone puts a new chord wherever it likes; under a reel in 16ths it changes harmony on
every quarter. With a harmonic rhythm the user chooses ("2" chords a bar, "beat", "melody": where
the kept melody strikes a note), each generated voice holds one pitch (or one rest) from one chord
start to the next: the cells of a voice within a span are *tied* into one group. Under the score's
fermatas the chord is held whatever the rhythm (`held_under_fermatas`).

A tied group is one variable to the sampler. Its conditional is taken as the product of its cells'
conditionals (the sum of their log-probabilities, each given everything outside the group: the
cells of a group are always masked together), drawn once with one group's noise, and written to all
its cells. So Gibbs passes rewrite whole groups, repair rewrites whole groups, and every variant
honours the rhythm exactly; ranking still scores cell by cell.
"""

from __future__ import annotations

import numpy as np

from engine.errors import ScoreError
from engine.music.score import Score

MAX_CHORDS_PER_BAR = 64


def rhythm_problem(value: str) -> str | None:
    """The message for a harmonic rhythm cantor does not know, or None (the CLI and the settings)."""
    if value in ("free", "melody", "beat") or (value.isdigit() and 1 <= int(value) <= MAX_CHORDS_PER_BAR):
        return None
    return (f"must be free, melody, beat or chords per bar (1..{MAX_CHORDS_PER_BAR});"
            f" got {value!r}")


def chord_starts(score: Score, mask: np.ndarray, rhythm: str) -> np.ndarray | None:
    """Bool (T,): steps where a new chord may start under `rhythm`; None for "free"."""
    rhythm = str(rhythm).strip().lower()
    steps = score.num_steps
    position = (np.arange(steps) - score.pickup) % score.steps_per_bar
    if rhythm in ("", "free"):
        return None
    if rhythm == "melody":
        kept = ~mask[0]
        starts = kept & (score.onsets[0] | (score.pitches[0] < 0))
        if not (kept & (score.pitches[0] >= 0)).any():
            raise ScoreError("harmonic rhythm 'melody' needs a kept melody (the soprano)")
    elif rhythm == "beat":  # the felt beat: a dotted quarter in 6/8, 9/8 and 12/8
        from engine.music.analysis import beat_length

        starts = position % beat_length(score) == 0
    elif rhythm.isdigit() and int(rhythm) >= 1:
        count = int(rhythm)
        if score.steps_per_bar % count:
            raise ScoreError(f"{score.steps_per_bar} 16ths a bar do not split into {count} equal chords")
        starts = position % (score.steps_per_bar // count) == 0
    else:
        raise ScoreError(f"harmonic rhythm must be free, melody, beat or chords per bar"
                         f" (1, 2, 3, 4, ...); got {rhythm!r}")
    starts = starts.copy()
    if steps:
        starts[0] = True
    return starts


def held_under_fermatas(score: Score, starts: np.ndarray | None) -> np.ndarray | None:
    """`starts` with no new chord inside a fermata: the chord struck with the fermata's note is
    held to its end, as in Bach's chorales (the generated voices no longer keep moving, or trill,
    under a held phrase end). Only the score's own fermatas count, not the guessed phrase ends."""
    marks = score.fermatas
    if marks is None or not marks.any():
        return starts
    held = np.ones(score.num_steps, dtype=bool) if starts is None else starts.copy()
    inside = marks.copy()
    inside[1:] &= marks[:-1]  # a fermata step after the first of its run
    inside[0] = False
    held[inside] = False
    return held


def tie_groups(mask: np.ndarray, starts: np.ndarray | None,
               melody_starts: np.ndarray | None = None) -> np.ndarray | None:
    """(4, T) int group ids (-1 = free) of runs of generated cells between chord starts; the
    soprano's between `melody_starts` instead, where given (a melody free under a harmonic rhythm
    but held under fermatas)."""
    if starts is None:
        return None
    groups = np.full(mask.shape, -1, dtype=np.int64)
    spans = np.cumsum(starts) - 1  # span index of every step
    melody_spans = spans if melody_starts is None else np.cumsum(melody_starts) - 1
    next_id = 0
    for v in range(mask.shape[0]):
        span = melody_spans if v == 0 else spans
        t, steps = 0, mask.shape[1]
        while t < steps:
            if not mask[v, t]:
                t += 1
                continue
            end = t + 1
            while end < steps and mask[v, end] and span[end] == span[t]:
                end += 1
            if end - t > 1:
                groups[v, t:end] = next_id
                next_id += 1
            t = end
    return groups if next_id else None


class Ties:
    """Tied cells of a (4, T) board, for the samplers (see the module docstring)."""

    def __init__(self, groups) -> None:
        import torch

        self.groups = torch.as_tensor(groups, dtype=torch.long)
        flat = self.groups.flatten()
        self.cells = (flat >= 0).nonzero().flatten()
        ids, self.member = torch.unique(flat[self.cells], return_inverse=True)
        first = torch.full((len(ids),), flat.numel(), dtype=torch.long)
        self.first = first.scatter_reduce(0, self.member, self.cells, reduce="amin")
        self.lead = self.first[self.member]  # per tied cell: its group's first cell

    def crop(self, window) -> Ties:
        return self if window is None else Ties(window.crop(self.groups))

    def mask(self, inner):
        """(N, 4, W) bool: each group masked as its first cell is."""
        out = inner.clone().flatten(1)
        out[:, self.cells] = out[:, self.lead]
        return out.view_as(inner)

    def noise(self, uniforms):
        """(N, 4, W, C) uniforms: one group's draw uses its first cell's noise."""
        out = uniforms.clone().flatten(1, 2)
        out[:, self.cells] = out[:, self.lead]
        return out.view_as(uniforms)

    def logits(self, logits):
        """(N, 4, W, C): each tied cell gets its group's summed log-probabilities."""
        import torch
        import torch.nn.functional as F

        lp = F.log_softmax(logits.float(), dim=-1).flatten(1, 2)
        summed = torch.zeros(lp.shape[0], len(self.first), lp.shape[-1])
        summed.index_add_(1, self.member, lp[:, self.cells])
        out = logits.float().clone().flatten(1, 2)
        out[:, self.cells] = summed[:, self.member]
        return out.view(logits.shape)

    def expand(self, region):
        """(N, 4, T) bool: a group touched by `region` is in it whole."""
        import torch

        flat = region.clone().flatten(1)
        touched = torch.zeros(flat.shape[0], len(self.first))
        touched.index_add_(1, self.member, flat[:, self.cells].float())
        flat[:, self.cells] = touched[:, self.member] > 0
        return flat.view_as(region)
