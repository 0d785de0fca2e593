"""`Composer`: the one door to generation for the CLI and the TUI.

harmonize / infill / compose / polish turn a Score and a mask (True = generate) into ranked
variants; confidence gives the model's probability of every cell of a score.

Range: the model knows MIDI 36..81. Kept notes outside it are moved by whole octaves into it before
sampling and everything is moved back afterwards; `Result.messages` says so. When every kept voice
fits with one common shift, the whole texture moves with it (the generated voices keep the
voicing the model chose); otherwise each kept voice gets its own shift. A voice wider than the
model's range cannot be placed: PitchRangeError.

Ranking: `Variant.nll` is the mean over the generated cells of -log p(cell | the other cells),
estimated with `engine.coconet.sampling.pseudo_nll` (8 interleaved groups, one batched pass). During
sampling, `Progress.scores` is the cheaper running mean of -log p each generated cell had when it
was last drawn, and `Progress.confidence` is that probability (1.0 on kept cells).

Precision: sampling passes run in bf16 where the CPU has native bf16, on oneDNN's fused kernels
(engine/coconet/fused.py; `precision="fp32"` turns it off), and so do the ranking (`nll`: within
0.001 nats a cell of fp32's) and `confidence` (probabilities within 0.02 of fp32's, 0.0005 on
average). Threads: given none, the choice measured once per machine
(engine/coconet/threads.py), one thread when other processes hold the cores. torch is imported
on first use.

Harmonic rhythm: with `chords` ("2" a bar, "beat", "melody"), each generated voice holds one pitch
from one chord start to the next (engine/coconet/ties.py); "free" (the default) leaves it to the model.

Rests: a generated voice is not silent where a kept note sounds (engine/coconet/rests.py).

Repair proposals: where the standard shipped model samples in fp32, the voice-leading repair's
proposals are drawn by the shipped fast net (`repair_model="auto"`; about 0.76x the default
action's time, the benches' music within their spreads: README); `repair_model="same"` keeps one net.

Off by default, measured (README): `cool=C` cools the Gibbs passes and each repair proposal from
the temperature to C; `repair_context=C` lets a repair proposal see C steps each side of its region
instead of the receptive field (faster, no longer what the whole piece would draw).

Structure: a model trained with structure planes gets the piece framed by its real start and end,
and is told the meter, the phrase ends and the key (engine/coconet/framing.py says what when).

The fast path: sampling and repair run on the window of the region (engine/coconet/window.py), so
their cost follows the region, not the piece; a Gibbs variant stops once `patience` passes in a row
rewrote nothing; with `on_variant`, the first variant is finished (sampled, repaired, scored) and
handed over before the others are started, so an editor can show it at once. Without it, when the
cores are free, variants run side by side, one per core on one thread each (engine/coconet/lanes.py;
`lanes` sets how many, a given `threads` means one batch at a time).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.coconet.defaults import (  # noqa: F401 (re-exported for callers of the Composer)
    DEFAULT_REPAIR,
    MAX_BARS,
    MAX_REPAIR,
    MAX_STEPS,
    MAX_VARIANTS,
    PATIENCE,
    REPAIR_MISSES,
    REPAIR_PASSES,
    SAMPLERS,
    variant_seeds,
)
from engine.coconet.framing import conditioning, edge_of, frame
from engine.coconet.lanes import choose_lanes, run_in_batches, run_in_lanes
from engine.coconet.plan import plan_piece
from engine.coconet.ranges import _model_input, place_in_range
from engine.coconet.request import Request
from engine.coconet.rests import guarded, rest_forbidden
from engine.coconet.results import Progress, Result, Variant
from engine.coconet.threads import bf16_is_native
from engine.coconet.ties import Ties, chord_starts, held_under_fermatas, tie_groups
from engine.coconet.tonic import ENDINGS, OPENINGS, tonic_ending, tonic_opening
from engine.errors import ScoreError
from engine.music.score import NUM_VOICES, Score

PRECISIONS = ("auto", "fp32", "bf16")
REPAIR_MODELS = ("auto", "same", "fast")
"""Which net draws the repair proposals: "same" as samples, "fast" the shipped fast net, "auto"
the fast net where it was measured to pay (the standard shipped model sampling in fp32), else the
same (README, "Repair proposals by the fast net")."""


# --- the composer ----------------------------------------------------------------------------


def load_model(checkpoint=None):
    """The Coconet of `checkpoint` (default: the shipped weights), fused for inference."""
    from engine.coconet.loading import load_coconet

    return load_coconet(checkpoint, for_inference=True)


def _is_standard(checkpoint) -> bool:
    """True when `checkpoint` is the standard shipped model's file (None names it too)."""
    if checkpoint is None:
        return True
    from pathlib import Path

    from engine.coconet.loading import DEFAULT_COCONET

    try:
        return Path(checkpoint).expanduser().resolve() == DEFAULT_COCONET.resolve()
    except (OSError, RuntimeError, TypeError):
        return False


class Composer:
    """Generates ranked variants with a Coconet model (loaded on first use)."""

    def __init__(
        self, checkpoint=None, threads: int | None = None, *, model=None, precision: str = "auto",
        window: bool = True, lanes: int | None = None, repair_model: str = "auto",
    ) -> None:
        if precision not in PRECISIONS:
            raise ScoreError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        if repair_model not in REPAIR_MODELS:
            raise ScoreError(f"repair model must be one of {', '.join(REPAIR_MODELS)};"
                             f" got {repair_model!r}")
        self.checkpoint = checkpoint
        self.threads = threads
        self._threads_given = threads
        self.lanes = lanes  # variants at once, one thread each (None: one per free core; lanes.py)
        self.last_lanes = 1  # how many the last request used
        if precision == "auto":
            precision = "bf16" if bf16_is_native() else "fp32"
        self.precision = precision
        self.window = bool(window)  # False: every pass over the whole piece (for comparison)
        self._model = None
        self._sampling_model = None  # (model, what samples it in bf16): sampling_model
        if repair_model == "auto":  # the standard shipped model (not another file or a net)
            repair_model = ("fast" if model is None and precision == "fp32"
                            and _is_standard(checkpoint) else "same")
        self.repair_model = repair_model
        self._repair_net = None
        if model is not None:
            self._set_model(model)

    def __repr__(self) -> str:
        return (
            f"Composer(checkpoint={self.checkpoint!r}, threads={self.threads!r},"
            f" precision={self.precision!r})"
        )

    def _set_model(self, model) -> None:
        import torch

        self._model = model.eval()
        if self.threads:
            torch.set_num_threads(int(self.threads))
        elif torch.get_num_threads() > 1:
            from engine.coconet.threads import choose_threads

            self.threads = choose_threads(self.sampling_model, self.precision,
                                          self.sampling_precision)

    @property
    def model(self):
        if self._model is None:
            self._set_model(load_model(self.checkpoint))
        return self._model

    @property
    def sampling_model(self):
        """What draws the notes: in bf16, the model on oneDNN's fused kernels with its weights
        cast once (engine/coconet/fused.py: 1.3-1.7x faster passes than autocast); in fp32, or
        where those kernels cannot run, the model itself (fused fp32 kernels measured no faster)."""
        model = self.model
        if self.precision != "bf16":
            return model
        if self._sampling_model is None or self._sampling_model[0] is not model:
            import torch

            from engine.coconet.fused import fused_net

            self._sampling_model = (model, fused_net(model, torch.bfloat16) or model)
        return self._sampling_model[1]

    @property
    def repair_net(self):
        """What draws the repair proposals: `sampling_model`, or with `repair_model="fast"` the
        shipped fast net (in fp32 it takes about half the time a pass; a proposal is still taken
        only where it leaves fewer part-writing findings)."""
        if self.repair_model == "same":
            return self.sampling_model
        if self._repair_net is None:
            from engine.coconet.loading import FAST_COCONET

            fast = load_model(FAST_COCONET)
            if self.precision == "bf16":
                import torch

                from engine.coconet.fused import fused_net

                fast = fused_net(fast, torch.bfloat16) or fast
            self._repair_net = fast
        return self._repair_net

    def load(self) -> Composer:
        """Load the model now (e.g. in a worker thread) instead of on the first request."""
        _ = self.model
        if self.repair_model != "same":
            _ = self.repair_net
        return self

    # --- public requests ---------------------------------------------------------------------

    def harmonize(self, score: Score, keep=(0,), opening: str = "tonic", ending: str = "tonic",
                  **options) -> Result:
        """Write every voice not in `keep` (voice indices, 0 = soprano) around the kept ones.

        `opening="tonic"`: when the kept melody starts on the key's tonic, the bass starts on it
        too; `ending="tonic"`: when it ends on a note of the tonic triad, the bass ends on the
        tonic (engine/coconet/tonic.py). "free" leaves either to the model."""
        keep = tuple(keep)
        if not keep or any(not (isinstance(v, (int, np.integer)) and 0 <= v < 4) for v in keep):
            raise ScoreError(f"voices to keep must be indices 0..3 (S, A, T, B); got {keep}")
        if opening not in OPENINGS:
            raise ScoreError(f"opening must be one of {', '.join(OPENINGS)}; got {opening!r}")
        if ending not in ENDINGS:
            raise ScoreError(f"ending must be one of {', '.join(ENDINGS)}; got {ending!r}")
        mask = np.ones(score.pitches.shape, dtype=bool)
        mask[list(keep)] = False
        starts = chord_starts(score, mask, options.get("chords", "free"))
        for wanted, pin in ((opening, tonic_opening), (ending, tonic_ending)):
            pinned = pin(score, mask, starts) if wanted == "tonic" else None
            if pinned is not None and pinned[1].any():  # a pin never leaves nothing to write
                score, mask = pinned
        return self._generate(score, mask, **options)

    def infill(self, score: Score, mask: np.ndarray, **options) -> Result:
        """Rewrite the cells where `mask` (bool (4, T)) is True."""
        return self._generate(score, mask, **options)

    def compose(self, bars: int = 8, time_signature=(4, 4), pickup: int = 0, *,
                key: str | None = None, phrase: int | None = None, opening: str = "tonic",
                ending: str = "tonic", **options) -> Result:
        """A new piece of `bars` bars (plus a pickup of `pickup` steps) from nothing, in `key`
        (None: drawn by the seed) with a phrase end every `phrase` bars (None: by the meter; 0:
        the last note only) and, by default, the tonic under its first beat and as its last chord
        (engine/coconet/plan.py)."""
        if not 1 <= int(bars) <= MAX_BARS:
            raise ScoreError(f"bars must be in range 1..{MAX_BARS}; got {bars}")
        chords = options.get("chords", "free")
        score, mask, message = plan_piece(int(bars), tuple(time_signature), pickup, key=key,
                                          phrase=phrase, opening=opening, ending=ending,
                                          seed=options.get("seed", 0), chords=chords)
        # Under a harmonic rhythm the lower voices hold one note a chord; the melody moves freely.
        result = self._generate(score, mask, free_melody=chords not in ("", "free"), **options)
        result.messages.insert(0, message)
        return result

    def polish(self, score: Score, mask: np.ndarray, *, steps: int, **options) -> Result:
        """Gibbs rewriting that starts from the current content of the masked cells."""
        if options.get("sampler", "gibbs") != "gibbs":
            raise ScoreError("polish rewrites an existing draft: only the gibbs sampler can do that")
        return self._generate(score, mask, steps=steps, fill=False, **options)

    def confidence(self, score: Score, steps: tuple[int, int] | None = None):
        """(4, T) probability the model gives each cell given the others (see pseudo_nll), on the
        net that samples; with `steps` (start, end), only those steps, (4, end - start), computed
        on their window alone and equal to the same steps of the whole map."""
        import torch

        from engine.coconet.sampling import pseudo_nll

        everything = np.ones(score.pitches.shape, dtype=bool)
        start, end = (0, score.num_steps) if steps is None else (int(steps[0]), int(steps[1]))
        if not 0 <= start <= end <= score.num_steps:
            raise ScoreError(f"steps must lie in 0..{score.num_steps}; got {start}..{end}")
        if start == end:
            return np.zeros((NUM_VOICES, 0), dtype=np.float32)
        edge = edge_of(self.model)
        cond = conditioning(score, ~everything, edge)
        score, everything = frame(score, everything, edge)
        offsets, _ = place_in_range(score, ~everything)
        classes = torch.from_numpy(_model_input(score, ~everything, offsets))
        region = None
        if steps is not None:
            region = torch.zeros(everything.shape, dtype=torch.bool)
            region[:, edge + start:edge + end] = True
        nll = pseudo_nll(self.sampling_model, classes.unsqueeze(0), torch.from_numpy(everything),
                         cond=cond, window=self.window, region=region)
        return np.exp(-nll[0, :, edge + start:edge + end].numpy()).astype(np.float32)

    def sampling_precision(self):
        """bf16 autocast for the sampling passes where the fused net cannot run (about 2x faster
        where the CPU has native bf16); ranking and confidence run outside it."""
        import contextlib

        import torch

        if self.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def nll(self, score: Score, mask: np.ndarray) -> float:
        """The model's mean NLL of the cells of `mask` as they stand (the ranking's measure, on the
        net that samples: in bf16 within 0.001 nats a cell of fp32's, README)."""
        import torch

        from engine.coconet.sampling import mean_over, pseudo_nll

        mask = np.asarray(mask, dtype=bool)
        if mask.shape != score.pitches.shape or not mask.any():
            raise ScoreError(f"mask must have the score's shape {score.pitches.shape} and cells")
        edge = edge_of(self.model)
        cond = conditioning(score, mask, edge)
        score, mask = frame(score, mask, edge)
        offsets, _ = place_in_range(score, mask)
        classes = torch.from_numpy(_model_input(score, mask, offsets))
        mask_t = torch.from_numpy(mask)
        nll = pseudo_nll(self.sampling_model, classes.unsqueeze(0), mask_t, window=self.window,
                         cond=cond)
        return float(mean_over(nll, mask_t)[0])

    # --- the shared path ---------------------------------------------------------------------

    def _generate(
        self,
        score: Score,
        mask: np.ndarray,
        *,
        variants: int = 4,
        steps: int = 96,
        temperature: float = 0.99,
        seed: int = 0,
        sampler: str = "gibbs",
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        want_confidence: bool = False,
        fill: bool = True,
        repair: int = 0,
        repair_passes: int = REPAIR_PASSES,
        patience: int | None = PATIENCE,
        repair_misses: int | None = REPAIR_MISSES,
        cool: float | None = None,
        repair_context: int | None = None,
        on_variant: Callable[[Variant], None] | None = None,
        chords: str = "free",
        free_melody: bool = False,
    ) -> Result:
        import torch

        mask = _check_request(score, mask, variants, steps, temperature, sampler)
        if not 0 <= int(repair) <= MAX_REPAIR:
            raise ScoreError(f"repair rounds must be in range 0..{MAX_REPAIR}; got {repair}")
        if not 1 <= int(repair_passes) <= MAX_STEPS:
            raise ScoreError(f"repair passes must be in range 1..{MAX_STEPS}; got {repair_passes}")
        if patience is not None and int(patience) < 1:
            raise ScoreError(f"patience must be 1 or more (or None); got {patience}")
        if repair_misses is not None and int(repair_misses) < 1:
            raise ScoreError(f"repair misses must be 1 or more (or None); got {repair_misses}")
        if cool is not None and not 0 < float(cool) <= 10:
            raise ScoreError(f"cooling temperature must be in range (0, 10]; got {cool}")
        if repair_context is not None and int(repair_context) < 0:
            raise ScoreError(f"repair context must be 0 or more steps; got {repair_context}")
        starts = chord_starts(score, mask, chords)
        if sampler == "gibbs":
            starts = held_under_fermatas(score, starts)
        if free_melody and starts is not None:  # compose: only fermatas hold the melody
            groups = tie_groups(mask, starts, melody_starts=held_under_fermatas(score, None))
        else:
            groups = tie_groups(mask, starts)
        if groups is not None and sampler != "gibbs":
            raise ScoreError("a harmonic rhythm needs the gibbs sampler")
        edge = edge_of(self.model)
        offsets, messages = place_in_range(score, mask)
        framed, framed_mask = frame(score, mask, edge)
        classes = torch.from_numpy(_model_input(framed, framed_mask, offsets))
        run = Request(self, score, mask, offsets, classes, progress, want_confidence, cancel, edge)
        forbidden = np.pad(rest_forbidden(score.pitches, mask), ((0, 0), (edge, edge)))
        run.cond = conditioning(score, mask, edge)
        run.model, run.guarded_cond = guarded(self.sampling_model, run.cond, forbidden)
        run.repair_model = (run.model if self.repair_model == "same"
                            else guarded(self.repair_net, run.cond, forbidden)[0])
        if groups is not None:
            run.ties = Ties(np.pad(groups, ((0, 0), (edge, edge)), constant_values=-1))
        seeds = variant_seeds(seed, variants)
        options = {"sampler": sampler, "steps": int(steps), "temperature": float(temperature),
                   "fill": fill, "repair": int(repair), "repair_passes": int(repair_passes),
                   "patience": patience, "repair_misses": repair_misses,
                   "cool": None if cool is None else float(cool),
                   "repair_context": None if repair_context is None else int(repair_context)}
        first_alone = on_variant is not None
        lanes = self.last_lanes = choose_lanes(len(seeds), self.lanes, self._threads_given,
                                               first_alone=first_alone)
        found = (run_in_lanes(run, seeds, lanes, on_variant, first_alone=first_alone, **options)
                 if lanes > 1 else run_in_batches(run, seeds, on_variant, **options))
        if found is None:
            return Result([], [], cancelled=True)
        found.sort(key=lambda v: (v.nll, v.seed))
        return Result(found, messages)


def _check_request(score, mask, variants, steps, temperature, sampler) -> np.ndarray:
    if not isinstance(score, Score):
        raise ScoreError("expected a Score")
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != score.pitches.shape:
        raise ScoreError(f"mask must have the score's shape {score.pitches.shape}; got {mask.shape}")
    if not mask.any():
        raise ScoreError("nothing to generate: the region to fill is empty")
    if not 1 <= int(variants) <= MAX_VARIANTS:
        raise ScoreError(f"variants must be in range 1..{MAX_VARIANTS}; got {variants}")
    lowest = 1 if sampler == "ancestral" else 0
    if not lowest <= int(steps) <= MAX_STEPS:
        raise ScoreError(f"steps must be in range {lowest}..{MAX_STEPS}; got {steps}")
    if not 0 < float(temperature) <= 10:
        raise ScoreError(f"temperature must be in range (0, 10]; got {temperature}")
    if sampler not in SAMPLERS:
        raise ScoreError(f"sampler must be one of {', '.join(SAMPLERS)}; got {sampler!r}")
    return mask
