"""Model latencies for `cantor bench`: forward passes, harmonization, achieved and peak GFLOP/s.

Uses the shipped checkpoint (fused for inference), or the one named by $CANTOR_BENCH_CHECKPOINT;
when none is shipped yet, a freshly initialised network of the default config, fused the same way
(the "model" key says which). Sampling runs as the Composer runs it: where bf16 is native, on
oneDNN's fused kernels in bf16 (engine/coconet/fused.py); the forward keys time that net.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.benchmarks import median_ms

MELODY = (72, 74, 76, 77, 79, 77, 76, 74)  # eighth notes: one 4/4 bar (16 steps)


def load_bench_model():
    """(model, description): the shipped model, or a fresh default-config one if none is shipped."""
    from engine.coconet.checkpoint import file_sha256
    from engine.coconet.loading import DEFAULT_COCONET, load_coconet
    from engine.coconet.model import Coconet, CoconetConfig

    chosen = os.environ.get("CANTOR_BENCH_CHECKPOINT")
    if chosen:
        path = Path(chosen)
        return load_coconet(path), f"{path.name} sha256:{file_sha256(path)[:12]}"
    if DEFAULT_COCONET.is_file():
        model = load_coconet()
        return model, f"engine/weights/coconet.pt sha256:{file_sha256(DEFAULT_COCONET)[:12]}"
    model = Coconet(CoconetConfig()).eval().fuse_for_inference()
    return model, "untrained default config (no shipped checkpoint yet)"


def conv_flops(model, classes, mask) -> int:
    """FLOPs (2 per multiply-add) of every convolution in one forward pass, counted analytically."""
    import torch

    total = 0

    def count(module, _inputs, output) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += 2 * output.numel() * (module.in_channels // module.groups) * kh * kw

    hooks = [
        m.register_forward_hook(count) for m in model.modules() if isinstance(m, torch.nn.Conv2d)
    ]
    try:
        with torch.inference_mode():
            model(classes, mask)
    finally:
        for hook in hooks:
            hook.remove()
    return total


def melody_score(bars: int):
    from engine.music.score import Score

    pitches = np.full((4, 16 * bars), -1, dtype=np.int16)
    pitches[0] = np.tile(np.repeat(MELODY, 2), bars)
    return Score(pitches)


def measure(repeats: int) -> dict:
    import torch

    from engine.coconet.composer import DEFAULT_REPAIR, Composer

    model, description = load_bench_model()
    composer = Composer(model=model)
    results: dict = {
        "model": description,
        "precision": composer.precision,
        "threads": torch.get_num_threads(),  # as the Composer chose them (pick_threads)
        "cores": len(os.sched_getaffinity(0)),
    }

    net = composer.sampling_model  # what the sampling passes run (engine/coconet/fused.py)

    def forward(batch: int, steps: int):
        classes = torch.randint(0, model.config.num_classes, (batch, 4, steps))
        mask = torch.rand(batch, 4, steps) < 0.5
        with torch.inference_mode(), composer.sampling_precision():
            net(classes, mask)  # warm-up: oneDNN picks its kernels on the first call
        return classes, mask, lambda: net(classes, mask)

    with torch.inference_mode(), composer.sampling_precision():
        _, _, call = forward(1, 32)
        results["forward_t32_b1_ms"] = median_ms(call, repeats * 3)
        classes, mask, call = forward(4, 128)
        results["forward_t128_b4_ms"] = median_ms(call, repeats)
    flops = conv_flops(model, classes, mask)  # counted in fp32; the same arithmetic in bf16
    results["gflops_achieved"] = flops / (results["forward_t128_b4_ms"] / 1000) / 1e9

    two, eight = melody_score(2), melody_score(8)
    composer.harmonize(two, variants=1, steps=2)  # warm-up
    results["harmonize_2bar_ms"] = median_ms(
        lambda: composer.harmonize(two, variants=1, steps=96), repeats
    )
    results["harmonize_2bar_4var_ms"] = median_ms(
        lambda: composer.harmonize(two, variants=4, steps=96), repeats
    )
    composer.harmonize(eight, variants=1, steps=2)
    results["harmonize_8bar_ms"] = median_ms(
        lambda: composer.harmonize(eight, variants=1, steps=96), repeats
    )
    # What the command line and the composer do by default: Gibbs, then voice-leading repair.
    results["harmonize_2bar_repair_ms"] = median_ms(
        lambda: composer.harmonize(two, variants=1, steps=96, repair=DEFAULT_REPAIR), repeats
    )
    results["harmonize_8bar_repair_ms"] = median_ms(
        lambda: composer.harmonize(eight, variants=1, steps=96, repair=DEFAULT_REPAIR), repeats
    )
    # One thread avoids OpenMP's spin-waiting when other processes share the cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results["harmonize_2bar_1thread_ms"] = median_ms(
            lambda: composer.harmonize(two, variants=1, steps=96), repeats
        )
    finally:
        torch.set_num_threads(threads)
    # Peaks on the threads the Composer chose, so they compare with gflops_achieved (which is
    # measured in the sampling precision: bf16 where native).
    results["gflops_peak"] = peak_gflops(repeats)
    from engine.coconet.threads import bf16_is_native

    if bf16_is_native():  # emulated bf16 matmuls take minutes and say nothing about a peak
        results["gflops_peak_bf16"] = peak_gflops(repeats, dtype=torch.bfloat16)
    results["load_average"] = round(os.getloadavg()[0], 2)
    return results


def peak_gflops(repeats: int, size: int = 2048, dtype=None) -> float:
    """A large matmul (fp32 unless `dtype`): the machine's practical peak, measured in this run."""
    import torch

    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    ms = median_ms(lambda: a @ b, max(3, repeats))
    return 2 * size**3 / (ms / 1000) / 1e9
