"""Accompaniment latencies for `cantor bench`: the 8-bar draft, and draft + a short Gibbs polish.

Also the draft with the CLI's default latent refinement (accompany_8bar_refine_ms).
Uses the shipped accompaniment model (or a fresh default-config one when none is shipped; the
"accompany_model" key says which). The polish uses the Coconet the model benchmark uses, for
POLISH_STEPS steps: a third of the 96 steps of a full harmonization.
"""

from __future__ import annotations

import numpy as np

from engine.benchmarks import median_ms

POLISH_STEPS = 32
REFINE_STEPS = 10  # the CLI's default latent refinement
# Eight bars of 4/4: a stepwise tune in quarters and eighths (128 steps).
TUNE = (72, 74, 76, 77, 79, 79, 77, 76, 74, 72, 71, 72, 74, 76, 74, 72)


def eight_bar_melody():
    from engine.music.score import Score

    steps = []
    for i, pitch in enumerate(TUNE * 2):
        steps += [pitch] * (8 if i % 4 == 3 else 4)
    steps = (steps + [72] * 128)[:128]
    pitches = np.full((4, 128), -1, dtype=np.int16)
    pitches[0] = steps
    return Score(pitches)


def bench_model():
    """(model, description): the shipped accompaniment model, or an untrained default one."""
    from engine.accompany.model import AccompanimentVAE, AccompanyConfig, SurrogateEncoder
    from engine.accompany.predict import DEFAULT_ACCOMPANY, load_accompany, model_from_payload
    from engine.coconet.checkpoint import file_sha256

    if DEFAULT_ACCOMPANY.is_file():
        return (
            load_accompany(),
            f"engine/weights/accompany.pt sha256:{file_sha256(DEFAULT_ACCOMPANY)[:12]}",
        )
    config = AccompanyConfig()
    payload = {
        "config": config.to_dict(),
        "state_dict": {
            "vae": AccompanimentVAE(config).state_dict(),
            "surrogate": SurrogateEncoder(config).state_dict(),
        },
    }
    return model_from_payload(payload), "untrained default config (no shipped checkpoint yet)"


def measure(repeats: int) -> dict:
    from engine.accompany.predict import accompany
    from engine.benchmarks.model import load_bench_model
    from engine.coconet.composer import Composer

    model, description = bench_model()
    score = eight_bar_melody()
    accompany(score, checkpoint=model)  # warm-up: first calls allocate
    draft = median_ms(lambda: accompany(score, checkpoint=model), max(repeats, 10))
    refined = median_ms(lambda: accompany(score, checkpoint=model, refine=REFINE_STEPS), repeats)
    coconet, _ = load_bench_model()
    composer = Composer(model=coconet)
    polish = lambda: accompany(score, polish=POLISH_STEPS, checkpoint=model, composer=composer)
    polish()
    return {
        "accompany_8bar_ms": round(draft, 2),
        "accompany_8bar_polish_ms": round(median_ms(polish, repeats), 1),
        "accompany_8bar_refine_ms": round(refined, 1),
        "accompany_polish_steps": POLISH_STEPS,
        "accompany_refine_steps": REFINE_STEPS,
        "accompany_model": description,
    }
