"""Drawing music from Coconet: annealed blocked Gibbs and ancestral (orderless NADE) sampling.

Built from small named pieces, each with its parameters passed in:
- `YaoSchedule`: the probability of rewriting a masked cell at step i of n (Yao et al. 2014).
- `BernoulliMasker`: picks the cells to rewrite, each masked cell with that probability.
- `IndependentSampler`: draws every picked cell independently from the model's softmax.
- `GibbsSampler` / `AncestralSampler`: the loops.

Tensors are in the model's class space: `classes` (N, 4, T) long, masks (N, 4, T) bool with True =
to be generated. N variants run in one batch; variant k draws all its randomness from its own
`torch.Generator` seeded with `seeds[k]`, so a variant's music depends on its seed alone.
Cells outside the caller's mask are never written.

Windowing (engine/coconet/window.py): by default a sampler runs the network only on the masked
steps plus the receptive field each side, so its cost follows the region, not the piece. Random
numbers are drawn for the masked steps alone, so the windowed and the whole-tensor runs draw the
same numbers and give the same music. `cond` is optional conditioning planes (N or 1, C, T, P),
cropped like the rest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.coconet.window import masked_columns, model_window, rows, run_net, spread

# Variants are scored by pseudo-likelihood with the generated cells split into this many groups.
SCORE_GROUPS = 8
# Forward passes of the scorer are chunked to this batch size to bound memory on long scores.
SCORE_CHUNK = 16


@dataclass(frozen=True)
class YaoSchedule:
    """p_i = max(pmin, pmax - (pmax - pmin) * i / (alpha * n)): rewrite much early, little late."""

    pmin: float = 0.1
    pmax: float = 0.9
    alpha: float = 0.7

    def __post_init__(self) -> None:
        if not (0.0 < self.pmin <= self.pmax <= 1.0) or self.alpha <= 0:
            raise ValueError(
                f"schedule needs 0 < pmin <= pmax <= 1 and alpha > 0; got {self!r}"
            )

    def __call__(self, i: int, n: int) -> float:
        return max(self.pmin, self.pmax - (self.pmax - self.pmin) * i / (self.alpha * n))


@dataclass(frozen=True)
class BernoulliMasker:
    """Chooses each cell of the outer mask independently with probability p."""

    def __call__(self, outer: torch.Tensor, p: float, uniforms: torch.Tensor) -> torch.Tensor:
        return outer & (uniforms < p)


@dataclass(frozen=True)
class IndependentSampler:
    """Draws each cell from softmax(logits / temperature) with the Gumbel-max trick."""

    temperature: float = 0.99

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0; got {self.temperature}")

    def __call__(self, logits: torch.Tensor, uniforms: torch.Tensor,
                 temperature: float | None = None) -> torch.Tensor:
        """`temperature` overrides the sampler's own for this draw (a cooling schedule)."""
        # uniforms in [0, 1): -log(-log(0)) = -inf is never chosen, so no NaN can appear.
        gumbel = -torch.log(-torch.log(uniforms))
        return (logits / (temperature or self.temperature) + gumbel).argmax(-1)


def cooled(start: float, end: float | None, i: int, n: int, alpha: float) -> float:
    """Temperature of rewriting pass i of n when cooling from `start` to `end`: geometric in the
    schedule's progress min(1, i / (alpha * n)), so it reaches `end` where the block size reaches
    its smallest (YaoSchedule); `end` None keeps `start` throughout."""
    if end is None or n <= 0:
        return start
    return start * (end / start) ** min(1.0, i / (alpha * n))


class VariantRandom:
    """One torch.Generator per variant: variant k's randomness comes from seeds[k] only."""

    def __init__(self, seeds: Sequence[int]) -> None:
        self.seeds = [int(s) for s in seeds]
        self.generators = [torch.Generator().manual_seed(s) for s in self.seeds]

    def uniform(self, *shape: int) -> torch.Tensor:
        """(N, *shape) floats in [0, 1)."""
        return torch.stack([torch.rand(shape, generator=g) for g in self.generators])

    def permutation(self, n: int) -> torch.Tensor:
        """(N, n) one random permutation of range(n) per variant."""
        return torch.stack([torch.randperm(n, generator=g) for g in self.generators])

    def __repr__(self) -> str:
        return f"VariantRandom(seeds={self.seeds})"


@dataclass
class StepInfo:
    """What a sampler reports after each pass (tensors are the sampler's own; do not modify)."""

    step: int  # 1-based
    total: int
    classes: torch.Tensor  # (N, 4, T) current draft
    changed: torch.Tensor  # (N, 4, T) cells written in this pass
    cell_nll: torch.Tensor  # (N, 4, T) -log p of each generated cell when it was last drawn


@dataclass
class Draw:
    """The finished drafts and the -log p each generated cell had when it was drawn."""

    classes: torch.Tensor
    cell_nll: torch.Tensor
    passes: int = 0  # forward passes actually run (fewer than planned after an early stop)


StepCallback = Callable[[StepInfo], None]
CancelCheck = Callable[[], bool]


def _drawn_nll(logits: torch.Tensor, drawn: torch.Tensor) -> torch.Tensor:
    """-log p(drawn) under the untempered softmax, (N, 4, T)."""
    return -F.log_softmax(logits, dim=-1).gather(-1, drawn.unsqueeze(-1)).squeeze(-1)


def _batch(classes: torch.Tensor, mask: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(4, T) inputs -> (n, 4, T) copies, one per variant."""
    return classes.unsqueeze(0).repeat(n, 1, 1), mask.unsqueeze(0).expand(n, -1, -1).clone()


class _Board:
    """The full (N, 4, T) drafts a sampler reports, kept in step with the window it works on."""

    def __init__(self, classes: torch.Tensor, mask: torch.Tensor, n: int, window) -> None:
        self.window = window
        self.classes, _ = _batch(classes, mask, n)
        self.cell_nll = torch.zeros(self.classes.shape)

    def crop(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor if self.window is None else self.window.crop(tensor)

    def update(self, x: torch.Tensor, cell_nll: torch.Tensor, changed: torch.Tensor):
        """Full-length (classes, changed, cell_nll) of the current windowed state."""
        if self.window is None:
            return x, changed, cell_nll
        self.window.paste(self.classes, x)
        self.window.paste(self.cell_nll, cell_nll)
        full_changed = torch.zeros(self.classes.shape, dtype=torch.bool)
        return self.classes, self.window.paste(full_changed, changed), self.cell_nll


def _forward_rows(model, x, inner, cond, active: torch.Tensor | None) -> torch.Tensor:
    """Logits of the rows of `active` only (all rows when None): finished variants cost nothing."""
    if active is None:
        return run_net(model, x, inner, cond, wanted=inner).float()
    index = active.nonzero().flatten()
    return run_net(model, x[index], inner[index], rows(cond, index), wanted=inner[index]).float()


class GibbsSampler:
    """Independent blocked Gibbs with an annealed block size (Coconet's sampler).

    With `fill=True` a first pass draws every masked cell independently given the kept cells
    (the cheapest start; the rewriting that follows repairs its incoherence). Then each of the
    `steps` passes blanks each masked cell with probability schedule(i, steps) and redraws the
    blanked cells from the model given everything else. So a run costs steps (+1) forward passes.
    """

    def __init__(
        self,
        steps: int = 96,
        schedule: YaoSchedule | None = None,
        masker: BernoulliMasker | None = None,
        sampler: IndependentSampler | None = None,
        patience: int | None = None,
        cool: float | None = None,
    ) -> None:
        if steps < 0:
            raise ValueError(f"steps must be 0 or more; got {steps}")
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be 1 or more (or None); got {patience}")
        if cool is not None and not cool > 0:
            raise ValueError(f"cool must be > 0 (or None); got {cool}")
        self.steps = int(steps)
        self.schedule = schedule or YaoSchedule()
        self.masker = masker or BernoulliMasker()
        self.sampler = sampler or IndependentSampler()
        self.patience = patience
        self.cool = cool

    def __repr__(self) -> str:
        return (
            f"GibbsSampler(steps={self.steps}, schedule={self.schedule!r},"
            f" masker={self.masker!r}, sampler={self.sampler!r}, patience={self.patience!r},"
            f" cool={self.cool!r})"
        )

    def passes(self, num_masked: int, fill: bool = True) -> int:
        return self.steps + (1 if fill else 0)

    @torch.inference_mode()
    def run(
        self,
        model: torch.nn.Module,
        classes: torch.Tensor,
        mask: torch.Tensor,
        seeds: Sequence[int],
        *,
        fill: bool = True,
        on_step: StepCallback | None = None,
        cancel: CancelCheck | None = None,
        cond: torch.Tensor | None = None,
        window: bool = True,
        ties=None,
    ) -> Draw | None:
        """Sample len(seeds) variants of (4, T) `classes` in the cells of (4, T) `mask`.

        Returns None if `cancel()` became true (checked before every pass). With `patience`, a
        variant stops once that many rewriting passes in a row changed none of its cells. `ties`
        (engine/coconet/ties.py) makes groups of cells one variable each (a harmonic rhythm).
        """
        n = len(seeds)
        rng = VariantRandom(seeds)
        board = _Board(classes, mask, n, model_window(model, mask, window))
        ties = None if ties is None else ties.crop(board.window)
        x, outer = _batch(board.crop(classes), board.crop(mask), n)
        cond = None if cond is None else (cond if board.window is None else board.window.crop_cond(cond))
        columns = masked_columns(outer[0])
        num_classes = model.config.num_classes
        _, voices, width = x.shape
        cell_nll = torch.zeros(x.shape)
        total = self.passes(int(mask.sum()), fill)
        running = torch.ones(n, dtype=torch.bool)
        quiet = torch.zeros(n, dtype=torch.long)
        k = 0
        for k in range(total):
            if cancel is not None and cancel():
                return None
            temperature = self.sampler.temperature
            if fill and k == 0:
                inner = outer
                noise = spread(rng.uniform(voices, len(columns), num_classes), columns, width)
            else:
                i = k - 1 if fill else k
                u = spread(rng.uniform(voices, len(columns), num_classes + 1), columns, width)
                inner = self.masker(outer, self.schedule(i, self.steps), u[..., num_classes])
                noise = u[..., :num_classes]
                temperature = cooled(temperature, self.cool, i, self.steps, self.schedule.alpha)
            if ties is not None:
                inner, noise = ties.mask(inner) & outer, ties.noise(noise)
            some = None if bool(running.all()) else running
            inner = inner & running.view(n, 1, 1)
            logits = _forward_rows(model, x, inner, cond, some)
            index = slice(None) if some is None else some.nonzero().flatten()
            drawn = x.clone()
            drawn[index] = self.sampler(logits if ties is None else ties.logits(logits), noise[index],
                                        temperature)
            nll = cell_nll.clone()
            nll[index] = _drawn_nll(logits, drawn[index])
            rewritten = (inner & (drawn != x)).flatten(1).any(1)
            x = torch.where(inner, drawn, x)
            cell_nll = torch.where(inner, nll, cell_nll)
            if on_step is not None:
                on_step(StepInfo(k + 1, total, *board.update(x, cell_nll, inner)))
            if self.patience is not None and not (fill and k == 0):
                quiet = torch.where(rewritten, 0, quiet + 1)
                running &= quiet < self.patience
                if not running.any():
                    break
        passes = k + 1 if total else 0
        if on_step is not None and passes < total:  # stopped early: the progress reaches its end
            on_step(StepInfo(total, total, *board.update(x, cell_nll, torch.zeros_like(x, dtype=torch.bool))))
        full, _, full_nll = board.update(x, cell_nll, torch.zeros_like(x, dtype=torch.bool))
        return Draw(full, full_nll, passes)


class AncestralSampler:
    """Orderless-NADE ancestral sampling: masked cells are drawn in a random order, a block a pass.

    The block size is ceil(masked cells / steps), so `steps` bounds the number of forward passes
    (one cell per pass when steps >= the number of masked cells). Each variant has its own order.
    """

    def __init__(self, steps: int = 96, sampler: IndependentSampler | None = None) -> None:
        if steps < 1:
            raise ValueError(f"steps must be 1 or more; got {steps}")
        self.steps = int(steps)
        self.sampler = sampler or IndependentSampler()

    def __repr__(self) -> str:
        return f"AncestralSampler(steps={self.steps}, sampler={self.sampler!r})"

    def block_size(self, num_masked: int) -> int:
        return max(1, math.ceil(num_masked / self.steps))

    def passes(self, num_masked: int, fill: bool = True) -> int:
        return math.ceil(num_masked / self.block_size(num_masked)) if num_masked else 0

    @torch.inference_mode()
    def run(
        self,
        model: torch.nn.Module,
        classes: torch.Tensor,
        mask: torch.Tensor,
        seeds: Sequence[int],
        *,
        fill: bool = True,
        on_step: StepCallback | None = None,
        cancel: CancelCheck | None = None,
        cond: torch.Tensor | None = None,
        window: bool = True,
    ) -> Draw | None:
        """Like GibbsSampler.run; `fill` is ignored (every masked cell is drawn exactly once)."""
        n = len(seeds)
        rng = VariantRandom(seeds)
        board = _Board(classes, mask, n, model_window(model, mask, window))
        mask = board.crop(mask)
        x, remaining = _batch(board.crop(classes), mask, n)
        cond = None if cond is None else (cond if board.window is None else board.window.crop_cond(cond))
        columns = masked_columns(mask)
        num_classes = model.config.num_classes
        _, voices, width = x.shape
        cell_nll = torch.zeros(x.shape)
        # Cells are numbered voice-major in time order, the same in a window as in the whole.
        cells = mask.flatten().nonzero().squeeze(1)  # flat indices of the masked cells
        order = cells[rng.permutation(len(cells))] if len(cells) else cells.view(n, 0)
        block = self.block_size(len(cells))
        total = self.passes(len(cells))
        for k in range(total):
            if cancel is not None and cancel():
                return None
            noise = spread(rng.uniform(voices, len(columns), num_classes), columns, width)
            chosen = torch.zeros(n, voices * width, dtype=torch.bool)
            chosen.scatter_(1, order[:, k * block : (k + 1) * block], True)
            chosen = chosen.view(n, voices, width)
            logits = run_net(model, x, remaining, cond).float()
            drawn = self.sampler(logits, noise)
            x = torch.where(chosen, drawn, x)
            cell_nll = torch.where(chosen, _drawn_nll(logits, drawn), cell_nll)
            remaining = remaining & ~chosen
            if on_step is not None:
                on_step(StepInfo(k + 1, total, *board.update(x, cell_nll, chosen)))
        full, _, full_nll = board.update(x, cell_nll, torch.zeros_like(x, dtype=torch.bool))
        return Draw(full, full_nll, total)


def make_sampler(name: str, steps: int, temperature: float, patience: int | None = None,
                 cool: float | None = None) -> GibbsSampler | AncestralSampler:
    """"gibbs" or "ancestral" with the default schedule and the given temperature (`patience`:
    Gibbs' early stop, see GibbsSampler.run; `cool`: Gibbs cools to this temperature, `cooled`)."""
    inner = IndependentSampler(temperature)
    if name == "gibbs":
        return GibbsSampler(steps, sampler=inner, patience=patience, cool=cool)
    if name == "ancestral":
        return AncestralSampler(steps, sampler=inner)
    raise ValueError(f"sampler must be 'gibbs' or 'ancestral'; got {name!r}")


@torch.inference_mode()
def pseudo_nll(
    model: torch.nn.Module,
    classes: torch.Tensor,
    mask: torch.Tensor,
    groups: int = SCORE_GROUPS,
    seed: int = 0,
    *,
    cond: torch.Tensor | None = None,
    window: bool = True,
    region: torch.Tensor | None = None,
) -> torch.Tensor:
    """-log p(x_cell | the other cells) for every cell of (4, T) `mask`, (N, 4, T); 0 elsewhere.

    True pseudo-likelihood needs one forward pass per cell. Instead the masked cells are dealt
    into `groups` random groups (fixed `seed`, the same for every variant, so rankings compare
    like with like) and each group is blanked in turn: a cell is judged given all cells outside
    its group (about 1/groups of the generated cells hidden at once, like Gibbs' last steps).
    The passes run on the window of the masked steps (see the module docstring); given `region`
    ((4, T) bool), only its cells are computed (exactly as in the whole run), on its window.
    """
    n = classes.shape[0]
    cells = mask.flatten().nonzero().squeeze(1)
    result = torch.zeros(classes.shape)
    if not len(cells):
        return result
    generator = torch.Generator().manual_seed(seed)
    group_of = torch.full((mask.numel(),), -1, dtype=torch.long)
    group_of[cells[torch.randperm(len(cells), generator=generator)]] = torch.arange(len(cells)) % groups
    group_of = group_of.view(mask.shape)
    win = model_window(model, mask if region is None else region, window)
    if win is not None:
        group_of, classes = win.crop(group_of), win.crop(classes)
        cond = win.crop_cond(cond)
    part_result = torch.zeros(classes.shape)
    group_masks = [group_of == g for g in range(min(groups, len(cells)))]
    jobs = [(g, v) for g in range(len(group_masks)) for v in range(n)]
    for start in range(0, len(jobs), SCORE_CHUNK):
        part = jobs[start : start + SCORE_CHUNK]
        x = torch.stack([classes[v] for _, v in part])
        m = torch.stack([group_masks[g] for g, _ in part])
        nll = _drawn_nll(run_net(model, x, m, rows(cond, [v for _, v in part])).float(), x)
        for row, (g, v) in enumerate(part):
            part_result[v] = torch.where(group_masks[g], nll[row], part_result[v])
    result = part_result if win is None else win.paste(result, part_result)
    return result if region is None else result * region


def mean_over(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of (N, 4, T) `values` over the cells of (4, T) `mask`, (N,); 0 for an empty mask."""
    count = int(mask.sum())
    if not count:
        return torch.zeros(values.shape[0])
    return (values * mask).flatten(1).sum(1) / count
