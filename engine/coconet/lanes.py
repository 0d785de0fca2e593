"""Variants side by side: one variant per core, each on one thread.

A variant's music depends on its seed alone, so variants need not share a batch. On a CPU the
network's small convolutions gain little from a second OpenMP thread (the threads wait on each
other at every layer) and a batch of N variants costs about N times one, while two variants
sampled at once in two threads, each on its own core, cost about what one does. So when the cores
are free and a request asks for two or more variants, `run_in_lanes` starts one worker thread per
core ("lane"), sets torch to one thread each, and hands the lanes the variants one at a time in
seed order: each variant runs alone (batch of one) and is handed over as soon as it is finished, so
the first one arrives about as early as when it ran before the others, and the rest follow without
waiting for a batch. Progress reports the sum of the steps all variants have made and shows the
draft of the earliest unfinished variant, so an editor's preview does not jump between drafts.

`choose_lanes` decides: one lane when a thread count was given (the caller chose), when there is
one variant or one core, or when the load average says other work holds the cores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def choose_lanes(variants: int, lanes: int | None, threads_given: int | None) -> int:
    """How many variants run at once: `lanes` when given, else one per free core (see above)."""
    from engine.coconet.threads import busy, cores

    variants = int(variants)
    if variants < 2:
        return 1
    if lanes is not None:
        return max(1, min(int(lanes), variants))
    if threads_given is not None or busy():
        return 1
    return max(1, min(cores(), variants))


class _Hub:
    """Progress over all variants of a lanes run (reports arrive from the lane threads)."""

    def __init__(self, run, count: int, per_variant: int) -> None:
        self.run, self.count, self.per_variant = run, count, per_variant
        self.done = [0] * count
        self.finished = [False] * count
        self.lock = threading.Lock()

    def leading(self) -> int:
        return next((j for j, f in enumerate(self.finished) if not f), self.count - 1)

    def reporter(self, job: int):
        if self.run.progress is None:
            return None

        def report(info) -> None:
            with self.lock:
                self.done[job] = min(int(info.step), self.per_variant)
                if job != self.leading():
                    return
                step = sum(self.done)
                self.run.progress(self.run.progress_of(info, step, self.count * self.per_variant))

        return report

    def finish(self, job: int) -> None:
        with self.lock:
            self.done[job] = self.per_variant
            self.finished[job] = True


def run_in_lanes(run, seeds: list[int], lanes: int, on_variant: Callable | None, **options):
    """The variants of `seeds` (a `_Run`'s `variants` options), `lanes` at a time, one thread each;
    None when cancelled. `on_variant` is called (one call at a time) as each one is finished."""
    import torch

    jobs = list(enumerate(seeds))
    hub = _Hub(run, len(seeds), run.passes_per_variant(**options))
    results: list = [None] * len(seeds)
    stop = threading.Event()
    take, hand_over = threading.Lock(), threading.Lock()
    cancel = run.cancel
    run.cancel = lambda: stop.is_set() or (cancel is not None and bool(cancel()))

    def lane() -> None:
        while not stop.is_set():
            with take:
                if not jobs:
                    return
                job, seed = jobs.pop(0)
            try:
                done = run.variants([seed], 0, 1, report=hub.reporter(job), **options)
            except BaseException:
                stop.set()
                raise
            if done is None:
                stop.set()
                return
            hub.finish(job)
            results[job] = done[0]
            if on_variant is not None:
                with hand_over:
                    on_variant(done[0])

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="cantor-lane") as pool:
            futures = [pool.submit(lane) for _ in range(lanes)]
            for future in futures:
                future.result()  # re-raises a lane's error here
    finally:
        torch.set_num_threads(threads)
        run.cancel = cancel
    if any(r is None for r in results) or run.cancelled():
        return None
    return results
