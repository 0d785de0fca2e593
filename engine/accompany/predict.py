"""Instant accompaniment: melody -> surrogate -> latent -> decoded accompaniment (+ Gibbs polish).

`accompany(score)` cuts the melody into overlapping segments (hop = half a segment), predicts each
segment's latent code from the melody alone, decodes the other voices, blends the overlapping
halves with a triangular window (so seams are smooth), puts the original melody back exactly, and
optionally lets the Coconet model polish the accompaniment voices with a few Gibbs steps.
Variants decode mu_hat + eps * sigma, where sigma is the spread of z given the melody measured at
training time; `interpolate` (engine/accompany/interpolate.py) walks between the codes of two accompaniments.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.accompany.model import AccompanimentVAE, AccompanyConfig, SurrogateEncoder
from engine.accompany.placement import (  # noqa: F401 (re-exported for callers)
    _in_voice_ranges,
    _with_accompaniment,
    accompaniment_mask,
    restore_melody,
    track_pitches,
)
from engine.coconet.checkpoint import file_sha256, load_checkpoint
from engine.coconet.defaults import variant_seeds
from engine.coconet.ranges import _names
from engine.errors import CheckpointError, PitchRangeError, ScoreError
from engine.music.score import NUM_VOICES, VOICE_NAMES, Score

DEFAULT_ACCOMPANY = Path(__file__).resolve().parents[1] / "weights" / "accompany.pt"


@dataclass
class AccompanyModel:
    """A loaded accompaniment checkpoint: both networks in eval mode, and what came with them."""

    config: AccompanyConfig
    vae: AccompanimentVAE
    surrogate: SurrogateEncoder
    latent_sigma: np.ndarray
    payload: dict
    path: Path | None = None

    @property
    def is_chorale(self) -> bool:
        """Four pitched tracks: the layout of a Score (melody + three accompanying voices)."""
        c = self.config
        return c.num_tracks == NUM_VOICES and min(c.track_low) >= 0


_CACHE: dict[tuple, AccompanyModel] = {}


def load_accompany(path=None) -> AccompanyModel:
    """Load an accompaniment checkpoint (default: the shipped one); cached by path and mtime."""
    path = Path(path) if path else DEFAULT_ACCOMPANY
    if not path.is_file():
        hint = " (the shipped model is missing; train one with `cantor train accompany`)"
        raise CheckpointError(f"checkpoint not found: {path}" + (hint if path == DEFAULT_ACCOMPANY else ""))
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _CACHE:
        _CACHE[key] = model_from_payload(load_checkpoint(path, "accompany"), path)
    return _CACHE[key]


def model_from_payload(payload: dict, path: Path | None = None) -> AccompanyModel:
    """Rebuild both networks from a checkpoint dict; CheckpointError if it does not fit."""

    name = path.name if path else "checkpoint"
    try:
        config = AccompanyConfig.from_dict(payload["config"])
        vae, surrogate = AccompanimentVAE(config), SurrogateEncoder(config)
        vae.load_state_dict(payload["state_dict"]["vae"])
        surrogate.load_state_dict(payload["state_dict"]["surrogate"])
        sigma = np.asarray(payload.get("latent_sigma") or [1.0] * config.latent, dtype=np.float32)
        if sigma.shape != (config.latent,):
            raise ValueError("latent_sigma does not match the latent size")
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{name} does not hold a usable accompaniment model ({exc})"[:300]) from exc
    vae.eval()
    surrogate.eval()
    for param in [*vae.parameters(), *surrogate.parameters()]:
        param.requires_grad_(False)  # inference only: latent refinement differentiates z alone
    return AccompanyModel(config, vae, surrogate, sigma, payload, path)


def checkpoint_hash(model: AccompanyModel) -> str:
    return file_sha256(model.path)[:12] if model.path else "unsaved"


# --- segments ----------------------------------------------------------------------------


def segment_starts(steps: int, segment: int) -> tuple[list[int], int]:
    """Starts of overlapping segments (hop = segment / 2) covering `steps`, and the padded length."""
    hop = segment // 2
    padded = segment if steps <= segment else segment + -(-(steps - segment) // hop) * hop
    return list(range(0, padded - segment + 1, hop)), padded


def blend_window(segment: int, first: bool, last: bool) -> np.ndarray:
    """Triangular weights so overlapping halves cross-fade; flat at the score's two ends."""
    ramp = (np.arange(segment) + 0.5) / segment
    window = 1.0 - np.abs(2.0 * ramp - 1.0)
    half = segment // 2
    if first:
        window[:half] = 1.0
    if last:
        window[half:] = 1.0
    return window.astype(np.float32)


# --- melody placement ----------------------------------------------------------------------


def fit_melody(melody: np.ndarray, config: AccompanyConfig, target=None) -> tuple[int, list[str]]:
    """Octave shift (0 when already in range) putting the melody in the model's range, as near
    the training melody's register (`target` = (low, high)) as possible."""
    sounding = melody[melody >= 0]
    if not sounding.size:
        return 0, []
    low = config.track_low[0]
    high = low + config.track_classes[0] - 2
    lo, hi = int(sounding.min()), int(sounding.max())
    if hi - lo > high - low:
        raise PitchRangeError(
            f"the melody spans {lo}..{hi}, wider than the model's range {low}..{high}"
        )
    if low <= lo and hi <= high:
        return 0, []
    centre = float(np.median(sounding))
    goal = float(np.mean(target)) if target else (low + high) / 2
    options = [12 * k for k in range(-10, 11) if low <= lo + 12 * k and hi + 12 * k <= high]
    if not options:
        raise PitchRangeError(
            f"the melody ({lo}..{hi}) cannot be shifted by octaves into the model's range {low}..{high}"
        )
    shift = min(options, key=lambda s: (abs(centre + s - goal), abs(s)))
    if shift == 0:
        return 0, []
    octaves = abs(shift) // 12
    word = "an octave" if octaves == 1 else f"{octaves} octaves"
    way = "up" if shift > 0 else "down"
    return shift, [f"melody read {word} {way} for the model (the result keeps its real pitch)"]


def melody_classes(melody: np.ndarray, shift: int, config: AccompanyConfig) -> np.ndarray:
    silence = config.silence_class(0)
    low = config.track_low[0]
    return np.where(melody >= 0, melody.astype(np.int64) + shift - low, silence)


# --- drafting ------------------------------------------------------------------------------


def _segments(model: AccompanyModel, melody_cls: np.ndarray):
    """Melody classes (T,) -> (starts, padded length, (S, segment) LongTensor of melody segments)."""
    import torch

    seg = model.config.segment
    starts, padded = segment_starts(len(melody_cls), seg)
    full = np.full(padded, model.config.silence_class(0), dtype=np.int64)
    full[: len(melody_cls)] = melody_cls
    return starts, padded, torch.from_numpy(np.stack([full[s : s + seg] for s in starts]))


def decode_blended(model: AccompanyModel, z, melody_segs, starts, padded, steps):
    """Latents (N, S, latent) -> per track log-probabilities (N, classes, steps), seams blended."""
    import torch

    n, s, _ = z.shape
    seg = model.config.segment
    with torch.no_grad():
        melody = melody_segs.repeat(n, 1)
        logits = model.vae.decode(z.reshape(n * s, -1), melody)
    weights = [blend_window(seg, i == 0, i == s - 1) for i in range(s)]
    out = []
    for track_logits in logits:
        logp = torch.log_softmax(track_logits, dim=1).view(n, s, -1, seg).numpy()
        total = np.zeros((n, logp.shape[2], padded), dtype=np.float32)
        norm = np.zeros(padded, dtype=np.float32)
        for i, start in enumerate(starts):
            total[:, :, start : start + seg] += logp[:, i] * weights[i]
            norm[start : start + seg] += weights[i]
        pooled = total[:, :, :steps] / norm[:steps]
        # A weighted mean of log-probabilities, renormalised: a logarithmic opinion pool.
        pooled -= np.logaddexp.reduce(pooled, axis=1, keepdims=True)
        out.append(pooled)
    return out


def _choose(logps) -> tuple[np.ndarray, np.ndarray]:
    """Argmax classes of the accompaniment tracks (N, tracks-1, T) and their mean NLL (N,)."""
    classes = np.stack([lp.argmax(1) for lp in logps[1:]], axis=1)
    picked = np.stack(
        [np.take_along_axis(lp, c[:, None], 1)[:, 0] for lp, c in zip(logps[1:], classes.transpose(1, 0, 2))],
        axis=1,
    )
    return classes, -picked.reshape(len(classes), -1).mean(1)


def refine_latents(model: AccompanyModel, z, melody_segs, sigma, steps: int, lr: float = 0.1):
    """Move each z (B, latent) towards codes whose decoded melody is the real one.

    Minimises -log p(melody | z) + |(z - z0) / sigma|^2 / 2 by Adam on z alone, from z0: the
    nearest code, under the surrogate's own uncertainty, that explains the melody. Only
    meaningful when the decoder writes the melody (an unconditional decoder).
    """
    import torch
    import torch.nn.functional as F

    if steps <= 0 or model.config.decoder_sees_melody:
        return z
    start = z.detach()
    melody = melody_segs.repeat(len(z) // len(melody_segs), 1)
    z = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            logits = model.vae.decode(z, melody)[0]
            loss = F.cross_entropy(logits, melody, reduction="sum")
            loss = loss + 0.5 * ((z - start) / sigma).pow(2).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return z.detach()


@contextmanager
def one_torch_thread():
    """Run torch on one thread inside the block (restored after).

    The draft's tensors are small: on an idle 2-core machine one thread costs a few ms, but on a
    busy one two OpenMP threads wait on each other (measured 29 ms on one thread vs 153 ms on two
    while a training run held both cores).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def draft(model: AccompanyModel, melody_cls: np.ndarray, variants: int = 1, seed: int = 0,
          spread: float = 1.0, refine: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Accompaniment classes (N, tracks-1, T) and their decoder NLL (N,) for a melody.

    Variant 0 decodes the surrogate's mu_hat; the others mu_hat + eps * sigma * spread, re-drawn
    (wider) when they would repeat an earlier variant note for note. `refine` > 0 first moves
    every code towards the real melody (see refine_latents). Runs on one torch thread.
    """
    with one_torch_thread():
        return _draft(model, melody_cls, variants, seed, spread, refine)


def _draft(model, melody_cls, variants, seed, spread, refine):
    import torch

    starts, padded, melody_segs = _segments(model, melody_cls)
    steps, segs = len(melody_cls), len(melody_segs)
    with torch.no_grad():
        mu_hat = model.surrogate(melody_segs)
    sigma = torch.from_numpy(model.latent_sigma) * spread

    def decode(z):  # (n, S, latent) -> classes, nll
        z = refine_latents(model, z.reshape(-1, z.shape[-1]), melody_segs, sigma, refine)
        return _choose(decode_blended(model, z.view(-1, segs, z.shape[-1]), melody_segs, starts,
                                      padded, steps))

    gen = torch.Generator().manual_seed(int(seed))
    eps = torch.randn((variants, *mu_hat.shape), generator=gen)
    eps[0] = 0.0
    classes, nll = decode(mu_hat.unsqueeze(0) + eps * sigma)
    for i in range(1, variants):
        widen = 1.0
        for _ in range(4):
            if not any(np.array_equal(classes[i], classes[j]) for j in range(i)):
                break
            widen *= 1.5
            c, n = decode((mu_hat + torch.randn(mu_hat.shape, generator=gen) * sigma * widen)[None])
            classes[i], nll[i] = c[0], n[0]
    return classes, nll


# --- the facade ----------------------------------------------------------------------------


def _result_types():
    from engine.coconet.composer import Result, Variant

    return Result, Variant


def _check_request(score, melody_voice: int, variants: int, polish: int, repair: int = 0) -> None:
    if not isinstance(score, Score):
        raise ScoreError("accompany needs a Score")
    if not 0 <= melody_voice < NUM_VOICES:
        raise ScoreError(f"melody voice must be in range 0..3; got {melody_voice}")
    if not 1 <= variants <= 64:
        raise ScoreError(f"variants must be in range 1..64; got {variants}")
    if not 0 <= polish <= 10000:
        raise ScoreError(f"polish steps must be in range 0..10000; got {polish}")
    if not 0 <= repair <= 256:
        raise ScoreError(f"repair rounds must be in range 0..256; got {repair}")
    if score.num_steps == 0:
        raise ScoreError("the score is empty: there is no melody to accompany")
    if not (score.pitches[melody_voice] >= 0).any():
        name = VOICE_NAMES[melody_voice].lower()
        raise ScoreError(f"the {name} has no notes: put the melody in the {name} or choose its voice")


def _chorale_model(checkpoint) -> AccompanyModel:
    model = checkpoint if isinstance(checkpoint, AccompanyModel) else load_accompany(checkpoint)
    if not model.is_chorale:
        names = ", ".join(model.config.track_names)
        raise CheckpointError(f"this accompaniment model has tracks {names}, not four voices")
    return model


def _around_an_inner_melody(score, melody_voice, variants, seed, repair, composer, progress,
                            cancel):
    """The accompaniment model reads its melody as the top line: under an alto, tenor or bass
    melody it laid the other voices out as if above them (crossings on most steps). Coconet
    writes them around that voice instead, with the composer's defaults, and says so."""
    from engine.coconet.composer import DEFAULT_REPAIR, Composer

    composer = composer or Composer()
    result = composer.harmonize(score, keep=(melody_voice,), variants=variants, seed=seed,
                                repair=repair or DEFAULT_REPAIR, progress=progress, cancel=cancel)
    name = VOICE_NAMES[melody_voice].lower()
    result.messages.insert(0, f"the accompaniment model follows a melody on top; around the"
                              f" {name}, the other voices were written by Coconet")
    return result


def accompany(score, melody_voice=0, *, variants=1, polish=0, seed=0, checkpoint=None,
              composer=None, progress=None, cancel=None, spread=1.0, refine=0, repair=0):
    """Accompany the melody in `melody_voice`: draft in one pass, then optionally polish.

    `refine` steps move the predicted codes towards ones whose decoded melody is the real one
    (slower, better fitted to it); `repair` rounds of voice-leading repair (engine/coconet/repair.py)
    follow the polish. Returns the Composer's `Result`: variants best first (draft
    NLL under the VAE decoder, or the Coconet NLL after a polish), messages about octave shifts,
    `cancelled` when stopped.
    """
    Result, Variant = _result_types()
    _check_request(score, melody_voice, variants, polish, repair)
    if cancel is not None and cancel():
        return Result([], [], cancelled=True)
    model = _chorale_model(checkpoint)
    replaced = [v for v in range(NUM_VOICES) if v != melody_voice and (score.pitches[v] >= 0).any()]
    if replaced:
        result = accompany(score.with_cells(accompaniment_mask(score, melody_voice),
                                            np.full_like(score.pitches, -1)),
                           melody_voice, variants=variants, polish=polish, seed=seed,
                           checkpoint=model, composer=composer, progress=progress, cancel=cancel,
                           spread=spread, refine=refine, repair=repair)
        result.messages.insert(0, f"the {_names(replaced)} already written were replaced")
        return result
    if melody_voice != 0:
        return _around_an_inner_melody(score, melody_voice, variants, seed, repair, composer,
                                       progress, cancel)
    melody = score.pitches[melody_voice]
    shift, messages = fit_melody(melody, model.config, model.payload.get("melody_range"))
    tracks, nll = draft(model, melody_classes(melody, shift, model.config), variants, seed, spread,
                        refine)
    drafts = [
        Variant(_with_accompaniment(score, melody_voice, tracks[i], model, shift), float(nll[i]), int(seed))
        for i in range(variants)
    ]
    mask = accompaniment_mask(score, melody_voice)
    per_variant = polish
    if repair:
        from engine.coconet.repair import Repairer

        per_variant += repair * Repairer().passes
    if progress is not None:
        _report_draft(progress, drafts, mask, variants * per_variant)
    if not per_variant:
        return Result(sorted(drafts, key=lambda v: v.nll), messages)
    if composer is None:
        from engine.coconet.composer import Composer

        composer = Composer()
    polished = []
    for i, variant in enumerate(drafts):
        if cancel is not None and cancel():
            return Result([], [], cancelled=True)
        step_progress = None
        if progress is not None:
            step_progress = _offset_progress(progress, i * per_variant, variants * per_variant)
        found = composer.polish(variant.score, mask, steps=polish, variants=1,
                                seed=variant_seeds(seed, variants)[i], repair=repair,
                                progress=step_progress, cancel=cancel)
        if found.cancelled:
            return Result([], [], cancelled=True)
        messages += [m for m in found.messages if m not in messages]
        best = found.variants[0]
        polished.append(Variant(restore_melody(best.score, score, melody_voice), best.nll, variant.seed))
    return Result(sorted(polished, key=lambda v: v.nll), messages)


def _report_draft(progress, drafts, mask, total) -> None:
    try:
        from engine.coconet.composer import Progress
    except ImportError:  # pragma: no cover - the composer ships with cantor
        return
    pitches = np.stack([v.score.pitches for v in drafts]).astype(np.int16)
    changed = np.broadcast_to(mask, pitches.shape).copy()
    scores = np.array([v.nll for v in drafts], dtype=np.float32)
    progress(Progress(0, max(1, total), pitches, changed, scores, None))


def _offset_progress(progress, offset: int, total: int):
    """Progress of one variant's polish, counted within the whole run."""
    import dataclasses

    return lambda p: progress(dataclasses.replace(p, step=offset + p.step, total=total))


def accompany_trio(melody: np.ndarray, *, variants: int = 1, seed: int = 0, checkpoint=None,
                   refine: int = 0):
    """Bass and drums for a melody (MIDI pitches, -1 silence) with a trio model: Trios, best first."""
    from engine.accompany.trio import Trio

    model = checkpoint if isinstance(checkpoint, AccompanyModel) else load_accompany(checkpoint)
    c = model.config
    if model.is_chorale or c.num_tracks != 3:
        raise CheckpointError("this is not a melody/bass/drums (trio) accompaniment model")
    melody = np.asarray(melody, dtype=np.int16)
    if not (melody >= 0).any():
        raise ScoreError("the melody has no notes: nothing to accompany")
    shift, _ = fit_melody(melody, c, model.payload.get("melody_range"))
    tracks, nll = draft(model, melody_classes(melody, shift, c), variants, seed, refine=refine)
    order = np.argsort(nll, kind="stable")
    return [Trio(melody.copy(), track_pitches(tracks[i, 0], 1, c, shift),
                 tracks[i, 1].astype(np.int16), "accompany") for i in order]
