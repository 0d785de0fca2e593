"""Interpolation between two accompaniments in the VAE's latent space."""

from __future__ import annotations

import numpy as np

from engine.accompany.predict import (
    AccompanyModel,
    _check_request,
    _choose,
    _chorale_model,
    _with_accompaniment,
    decode_blended,
    fit_melody,
    restore_melody,
    segment_starts,
)
from engine.errors import PitchRangeError, ScoreError
from engine.music.score import NUM_VOICES, Score


def interpolate(score_a: Score, score_b: Score, steps: int = 5, melody_voice: int = 0,
                checkpoint=None) -> list[Score]:
    """Scores decoded along the straight line between the latent codes of two accompaniments.

    Both scores are encoded segment by segment (all voices); frame k decodes
    (1 - t) z_a + t z_b with t = k / (steps - 1), over score_a's melody for t < 1/2 and score_b's
    after, and that melody is put back exactly. The two ends are the VAE's reconstructions of
    the sources. Both scores must have the same length.
    """
    if steps < 2:
        raise ScoreError(f"interpolation needs at least 2 steps; got {steps}")
    if score_a.num_steps != score_b.num_steps:
        raise ScoreError(
            f"both scores must have the same length; got {score_a.num_steps} and {score_b.num_steps} steps"
        )
    _check_request(score_a, melody_voice, 1, 0)
    _check_request(score_b, melody_voice, 1, 0)
    model = _chorale_model(checkpoint)
    order = [melody_voice] + [v for v in range(NUM_VOICES) if v != melody_voice]
    ends = []
    for score in (score_a, score_b):
        shift, _ = fit_melody(score.pitches[melody_voice], model.config, model.payload.get("melody_range"))
        mu, melody_segs, starts, padded = encode_score(model, score.pitches[order], shift)
        ends.append((score, shift, mu, melody_segs))
    frames = []
    for k in range(steps):
        t = k / (steps - 1)
        source, shift, _, melody_segs = ends[0] if t < 0.5 else ends[1]
        z = (1 - t) * ends[0][2] + t * ends[1][2]
        logps = decode_blended(model, z[None], melody_segs, starts, padded, source.num_steps)
        classes, _ = _choose(logps)
        frame = _with_accompaniment(source, melody_voice, classes[0], model, shift)
        frames.append(restore_melody(frame, source, melody_voice))
    return frames


def encode_score(model: AccompanyModel, pitches: np.ndarray, shift: int):
    """All voices of a score (tracks, T) -> posterior means per segment (S, latent), segments."""
    import torch

    c = model.config
    tracks = np.stack([
        np.where(pitches[i] >= 0, pitches[i].astype(np.int64) + shift - c.track_low[i], c.silence_class(i))
        for i in range(c.num_tracks)
    ])
    for i in range(c.num_tracks):
        sounding = pitches[i] >= 0
        if sounding.any() and (tracks[i][sounding].min() < 0 or tracks[i][sounding].max() > c.track_classes[i] - 2):
            raise PitchRangeError(f"the {c.track_names[i]} leaves the model's range; transpose the score")
    seg = c.segment
    starts, padded = segment_starts(tracks.shape[1], seg)
    full = np.stack([np.full(padded, c.silence_class(i), dtype=np.int64) for i in range(c.num_tracks)])
    full[:, : tracks.shape[1]] = tracks
    segs = torch.from_numpy(np.stack([full[:, s : s + seg] for s in starts]))
    with torch.no_grad():
        mu, _ = model.vae.encode(segs)
    return mu, segs[:, 0], starts, padded
