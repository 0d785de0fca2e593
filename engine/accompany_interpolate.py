"""Interpolation between two accompaniments in the VAE's latent space."""

from __future__ import annotations

from engine.accompany import (
    _check_request,
    _choose,
    _chorale_model,
    _with_accompaniment,
    decode_blended,
    encode_score,
    fit_melody,
    restore_melody,
)
from engine.errors import ScoreError
from engine.score import NUM_VOICES, Score


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
