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

Precision: sampling passes run under bf16 autocast where the CPU has native bf16 (about twice as
fast; `precision="fp32"` turns it off); the ranking and `confidence` always run in fp32.
Threads: given none, the composer times a forward pass on all cores and on one and keeps the
faster (`pick_threads`): on a machine busy with other work one thread is often several times faster.
torch is imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.coconet.defaults import (  # noqa: F401 (re-exported for callers of the Composer)
    DEFAULT_REPAIR,
    MAX_BARS,
    MAX_REPAIR,
    MAX_STEPS,
    MAX_VARIANTS,
    SAMPLERS,
)
from engine.errors import PitchRangeError, ScoreError
from engine.music.pianoroll import MODEL_HIGH, MODEL_LOW, to_classes, to_pitches
from engine.music.score import NUM_VOICES, VOICE_NAMES, Score

PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class Variant:
    score: Score  # the whole score, generated cells filled in (onsets merged where generated)
    nll: float  # model's mean NLL per generated cell (pseudo-likelihood), lower = better
    seed: int


@dataclass
class Progress:
    step: int
    total: int
    pitches: np.ndarray  # (N, 4, T) current draft of each variant, MIDI pitches, -1 silence
    changed: np.ndarray  # (N, 4, T) bool: cells rewritten this step
    scores: np.ndarray  # (N,) running mean NLL per variant
    confidence: np.ndarray | None = None  # (N, 4, T) probability of each current cell, if asked


@dataclass
class Result:
    variants: list[Variant]  # best first; empty when cancelled
    messages: list[str] = field(default_factory=list)
    cancelled: bool = False


# --- placing kept notes in the model's range -------------------------------------------------


def _octaves_text(semitones: int) -> str:
    octaves = abs(semitones) // 12
    amount = "an octave" if octaves == 1 else f"{octaves} octaves"
    return f"{'down' if semitones < 0 else 'up'} {amount}"


def _names(voices: Sequence[int]) -> str:
    names = [VOICE_NAMES[v].lower() for v in voices]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _octave_shift(low: int, high: int) -> int | None:
    """Smallest octave shift (semitones) moving low..high inside the model range, or None."""
    fits = [12 * k for k in range(-11, 12) if low + 12 * k >= MODEL_LOW and high + 12 * k <= MODEL_HIGH]
    return min(fits, key=abs) if fits else None


def place_in_range(score: Score, mask: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Per-voice semitone offsets that bring the kept notes into 36..81, and messages saying so."""
    kept = (~mask) & (score.pitches >= 0)
    spans = {}
    for v in range(NUM_VOICES):
        notes = score.pitches[v][kept[v]]
        if notes.size:
            spans[v] = (int(notes.min()), int(notes.max()))
    offsets = np.zeros(NUM_VOICES, dtype=np.int32)
    outside = [v for v, (lo, hi) in spans.items() if lo < MODEL_LOW or hi > MODEL_HIGH]
    if not outside:
        return offsets, []
    for v in outside:
        lo, hi = spans[v]
        if hi - lo > MODEL_HIGH - MODEL_LOW:
            raise PitchRangeError(
                f"the {VOICE_NAMES[v].lower()} spans {lo}..{hi} ({hi - lo} semitones), wider than"
                f" the model's range {MODEL_LOW}..{MODEL_HIGH}: split it or move its extreme notes"
            )
    common = _octave_shift(min(lo for lo, _ in spans.values()), max(hi for _, hi in spans.values()))
    if common is not None:
        offsets[:] = common
        message = (
            f"{_names(outside)} shifted {_octaves_text(common)} into the model's range"
            f" {MODEL_LOW}..{MODEL_HIGH}; the whole result was shifted back"
        )
        return offsets, [message]
    messages = []
    for v in outside:
        shift = _octave_shift(*spans[v])
        if shift is None:
            lo, hi = spans[v]
            raise PitchRangeError(
                f"the {VOICE_NAMES[v].lower()} ({lo}..{hi}) cannot be moved by octaves into the"
                f" model's range {MODEL_LOW}..{MODEL_HIGH}: transpose the piece a few semitones"
            )
        offsets[v] = shift
        messages.append(
            f"{VOICE_NAMES[v].lower()} shifted {_octaves_text(shift)} into the model's range"
            f" {MODEL_LOW}..{MODEL_HIGH} and shifted back afterwards"
        )
    return offsets, messages


def _fold(pitches: np.ndarray, low: int, high: int) -> np.ndarray:
    """Move sounding pitches by octaves until they lie in low..high (high - low >= 11)."""
    p = pitches.astype(np.int32)
    sounding = p >= 0
    below = sounding & (p < low)
    p[below] += 12 * ((low - p[below] + 11) // 12)
    above = sounding & (p > high)
    p[above] -= 12 * ((p[above] - high + 11) // 12)
    return p


def _model_input(score: Score, mask: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Class indices (4, T) with the offsets applied; masked cells folded into range (for polish)."""
    p = score.pitches.astype(np.int32)
    p = np.where(p >= 0, p + offsets[:, None], -1)
    p = np.where(mask, _fold(p, MODEL_LOW, MODEL_HIGH), p)
    return to_classes(p)


def _user_pitches(classes: np.ndarray, offsets: np.ndarray, original: np.ndarray, mask: np.ndarray):
    """(N, 4, T) model classes -> MIDI pitches in the user's octaves; kept cells from `original`."""
    p = to_pitches(classes).astype(np.int32)
    p = np.where(p >= 0, p - offsets[None, :, None], -1)
    p = _fold(p, 0, 127)
    return np.where(mask, p, original).astype(np.int16)


# --- the composer ----------------------------------------------------------------------------


def bf16_is_native() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX), so autocast pays off."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_threads(model, precision_context) -> int:
    """Set torch to all cores or to one, whichever runs a 2-bar forward pass faster right now.

    OpenMP threads that share their cores with other busy processes wait on each other and can
    be 5-10x slower than a single thread; on an idle machine all cores win. Measured, not guessed.
    """
    import time

    import torch

    classes = torch.zeros(1, 4, 32, dtype=torch.long)
    mask = torch.ones(1, 4, 32, dtype=torch.bool)
    timings = {}
    for threads in (torch.get_num_threads(), 1):
        torch.set_num_threads(threads)
        with torch.inference_mode(), precision_context():
            model(classes, mask)  # warm-up: kernels are chosen on the first call
            # A sustained run, not the best single pass: descheduled threads show up over time.
            began = time.perf_counter()
            for _ in range(8):
                model(classes, mask)
        timings[threads] = time.perf_counter() - began
    best = min(timings, key=timings.get)
    torch.set_num_threads(best)
    return best


def load_model(checkpoint=None):
    """The Coconet of `checkpoint` (default: the shipped weights), fused for inference."""
    from engine.coconet.loading import load_coconet

    return load_coconet(checkpoint, for_inference=True)


class Composer:
    """Generates ranked variants with a Coconet model (loaded on first use)."""

    def __init__(
        self, checkpoint=None, threads: int | None = None, *, model=None, precision: str = "auto"
    ) -> None:
        if precision not in PRECISIONS:
            raise ScoreError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        self.checkpoint = checkpoint
        self.threads = threads
        if precision == "auto":
            precision = "bf16" if bf16_is_native() else "fp32"
        self.precision = precision
        self._model = None
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
            self.threads = pick_threads(self._model, self.sampling_precision)

    @property
    def model(self):
        if self._model is None:
            self._set_model(load_model(self.checkpoint))
        return self._model

    def load(self) -> Composer:
        """Load the model now (e.g. in a worker thread) instead of on the first request."""
        _ = self.model
        return self

    # --- public requests ---------------------------------------------------------------------

    def harmonize(self, score: Score, keep=(0,), **options) -> Result:
        """Write every voice not in `keep` (voice indices, 0 = soprano) around the kept ones."""
        keep = tuple(keep)
        if not keep or any(not (isinstance(v, (int, np.integer)) and 0 <= v < 4) for v in keep):
            raise ScoreError(f"voices to keep must be indices 0..3 (S, A, T, B); got {keep}")
        mask = np.ones(score.pitches.shape, dtype=bool)
        mask[list(keep)] = False
        return self._generate(score, mask, **options)

    def infill(self, score: Score, mask: np.ndarray, **options) -> Result:
        """Rewrite the cells where `mask` (bool (4, T)) is True."""
        return self._generate(score, mask, **options)

    def compose(self, bars: int = 8, time_signature=(4, 4), pickup: int = 0, **options) -> Result:
        """A new piece of `bars` bars (plus a pickup of `pickup` steps) from nothing."""
        if not 1 <= int(bars) <= MAX_BARS:
            raise ScoreError(f"bars must be in range 1..{MAX_BARS}; got {bars}")
        blank = Score.empty(1, time_signature=tuple(time_signature), pickup=pickup)
        score = Score.empty(pickup + int(bars) * blank.steps_per_bar, **blank.meta())
        return self._generate(score, np.ones(score.pitches.shape, dtype=bool), **options)

    def polish(self, score: Score, mask: np.ndarray, *, steps: int, **options) -> Result:
        """Gibbs rewriting that starts from the current content of the masked cells."""
        if options.get("sampler", "gibbs") != "gibbs":
            raise ScoreError("polish rewrites an existing draft: only the gibbs sampler can do that")
        return self._generate(score, mask, steps=steps, fill=False, **options)

    def confidence(self, score: Score):
        """(4, T) probability the model gives each cell given the others (see pseudo_nll)."""
        import torch

        from engine.coconet.sampling import pseudo_nll

        everything = np.ones(score.pitches.shape, dtype=bool)
        if not score.num_steps:
            return np.zeros(score.pitches.shape, dtype=np.float32)
        offsets, _ = place_in_range(score, ~everything)
        classes = torch.from_numpy(_model_input(score, ~everything, offsets))
        nll = pseudo_nll(self.model, classes.unsqueeze(0), torch.from_numpy(everything))
        return np.exp(-nll[0].numpy()).astype(np.float32)

    def sampling_precision(self):
        """bf16 autocast for the sampling passes (about 2x faster where the CPU has native bf16);
        ranking and confidence always run in fp32."""
        import contextlib

        import torch

        if self.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def nll(self, score: Score, mask: np.ndarray) -> float:
        """The model's mean NLL of the cells of `mask` as they stand (the ranking's measure)."""
        import torch

        from engine.coconet.sampling import mean_over, pseudo_nll

        mask = np.asarray(mask, dtype=bool)
        if mask.shape != score.pitches.shape or not mask.any():
            raise ScoreError(f"mask must have the score's shape {score.pitches.shape} and cells")
        offsets, _ = place_in_range(score, mask)
        classes = torch.from_numpy(_model_input(score, mask, offsets))
        mask_t = torch.from_numpy(mask)
        return float(mean_over(pseudo_nll(self.model, classes.unsqueeze(0), mask_t), mask_t)[0])

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
    ) -> Result:
        import dataclasses

        import torch

        from engine.coconet.repair import Repairer
        from engine.coconet.sampling import Draw, make_sampler, mean_over, pseudo_nll

        mask = _check_request(score, mask, variants, steps, temperature, sampler)
        if not 0 <= int(repair) <= MAX_REPAIR:
            raise ScoreError(f"repair rounds must be in range 0..{MAX_REPAIR}; got {repair}")
        offsets, messages = place_in_range(score, mask)
        classes = torch.from_numpy(_model_input(score, mask, offsets))
        mask_t = torch.from_numpy(mask)
        seeds = [int(seed) + k for k in range(int(variants))]
        model = self.model

        def report(info) -> None:
            nll = info.cell_nll.numpy()
            progress(
                Progress(
                    step=info.step,
                    total=info.total,
                    pitches=_user_pitches(info.classes.numpy(), offsets, score.pitches, mask),
                    changed=info.changed.numpy().copy(),
                    scores=mean_over(info.cell_nll, mask_t).numpy(),
                    confidence=np.where(mask, np.exp(-nll), 1.0).astype(np.float32)
                    if want_confidence
                    else None,
                )
            )

        runner = make_sampler(sampler, int(steps), float(temperature))
        repairer = Repairer(rounds=int(repair), temperature=float(temperature))
        extra = repairer.total_passes()
        sampling_report = None
        if progress is not None:
            sampling_report = lambda info: report(dataclasses.replace(info, total=info.total + extra))
        with self.sampling_precision():
            draw = runner.run(
                model, classes, mask_t, seeds, fill=fill, on_step=sampling_report, cancel=cancel,
            )  # fmt: skip
            if draw is not None and repairer.rounds:

                def to_scores(drafts):
                    pitches = _user_pitches(drafts.numpy(), offsets, score.pitches, mask)
                    return [score.with_cells(mask, p) for p in pitches]

                done = runner.passes(int(mask.sum()), fill)
                fixed = repairer.run(
                    model, draw.classes, mask, seeds, to_scores, cell_nll=draw.cell_nll,
                    on_step=report if progress is not None else None, step_offset=done,
                    total=done + extra, cancel=cancel,
                )  # fmt: skip
                draw = None if fixed is None else Draw(*fixed)
        if draw is None or (cancel is not None and cancel()):
            return Result([], [], cancelled=True)
        nll = mean_over(pseudo_nll(model, draw.classes, mask_t), mask_t).tolist()
        pitches = _user_pitches(draw.classes.numpy(), offsets, score.pitches, mask)
        found = [
            Variant(score.with_cells(mask, pitches[k]), float(nll[k]), seeds[k])
            for k in range(len(seeds))
        ]
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
