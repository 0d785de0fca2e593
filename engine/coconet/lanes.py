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
one variant or one core, or when the load average says other work holds the cores (the
environment variable `CANTOR_LANES=N` sets N for every request that names none); and one lane
when the first variant is wanted early (the editor): measured on a 2-vCPU machine whose second
core adds only about a third to the throughput of two busy threads, the editor's 4 variants took
11.2 s side by side after the first against 10.5 s batched (medians of 3; README, benchmarks),
while a command line's 4 variants took 9.3 s side by side against 10.4 s. `lanes=` forces it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def choose_lanes(variants: int, lanes: int | None, threads_given: int | None,
                 first_alone: bool = False) -> int:
    """How many variants run at once: `lanes` when given, else one per free core (see above)."""
    from engine.coconet.threads import busy, cores

    variants = int(variants)
    if variants < 2:
        return 1
    if lanes is None:
        lanes = lanes_from_environment()
    if lanes is not None:
        return max(1, min(int(lanes), variants))
    if threads_given is not None or first_alone or busy():
        return 1
    return max(1, min(cores(), variants))


def lanes_from_environment() -> int | None:
    """`CANTOR_LANES`: how many variants run at once (1 = one batch, as before); None when unset
    or not a whole number from 1."""
    import os

    text = os.environ.get("CANTOR_LANES", "").strip()
    return int(text) if text.isdigit() and int(text) >= 1 else None


class _Hub:
    """Progress over all variants of a lanes run (reports arrive from the lane threads)."""

    def __init__(self, run, count: int, per_variant: int) -> None:
        self.run, self.count, self.per_variant = run, count, per_variant
        self.done = [0] * count
        self.finished = [False] * count
        self.last = [None] * count  # each variant's latest report
        self.lock = threading.Lock()

    def leading(self) -> int:
        return next((j for j, f in enumerate(self.finished) if not f), self.count - 1)

    def _show(self) -> None:
        """Report the leading variant's latest draft at the steps all variants have made."""
        info = self.last[self.leading()]
        if info is not None and self.run.progress is not None:
            self.run.progress(self.run.progress_of(info, sum(self.done),
                                                   self.count * self.per_variant))

    def reporter(self, job: int):
        if self.run.progress is None:
            return None

        def report(info) -> None:
            with self.lock:
                self.done[job] = min(int(info.step), self.per_variant)
                self.last[job] = info
                if job == self.leading():
                    self._show()

        return report

    def finish(self, job: int) -> None:
        with self.lock:
            self.done[job] = self.per_variant
            self.finished[job] = True
            if job != self.leading():
                self._show()  # the next variant leads now (the last report: at the total)


def run_in_batches(run, seeds: list[int], on_variant: Callable | None, **options):
    """One lane: all variants in one batch on torch's threads; with `on_variant`, the first one
    alone first (handed over before the others start), then the rest in one batch. None when
    cancelled."""
    batches = [seeds[:1], seeds[1:]] if on_variant is not None and len(seeds) > 1 else [seeds]
    found = []
    for number, batch in enumerate(batches):
        done = run.variants(batch, number, len(batches), **options)
        if done is None:
            return None
        found += done
        if on_variant is not None:
            for variant in sorted(done, key=lambda v: (v.nll, v.seed)):
                on_variant(variant)
    return found


def run_in_lanes(run, seeds: list[int], lanes: int, on_variant: Callable | None,
                 first_alone: bool = False, **options):
    """The variants of `seeds` (a `Request`'s `variants` options), `lanes` at a time, one thread each;
    None when cancelled. `on_variant` is called (one call at a time) as each one is finished.
    `first_alone`: the first variant runs before the others, on all of torch's threads, so it
    arrives as early as it can (an editor shows it while the others are written)."""
    import torch

    jobs = list(enumerate(seeds))
    hub = _Hub(run, len(seeds), run.passes_per_variant(**options))
    results: list = [None] * len(seeds)
    stop = threading.Event()
    take, hand_over = threading.Lock(), threading.Lock()
    cancel = run.cancel
    run.cancel = lambda: stop.is_set() or (cancel is not None and bool(cancel()))

    def one(job: int, seed: int) -> bool:
        try:
            done = run.variants([seed], 0, 1, report=hub.reporter(job), **options)
        except BaseException:
            stop.set()
            raise
        if done is None:
            stop.set()
            return False
        hub.finish(job)
        results[job] = done[0]
        if on_variant is not None:
            with hand_over:
                on_variant(done[0])
        return True

    def lane() -> None:
        while not stop.is_set():
            with take:
                if not jobs:
                    return
                job, seed = jobs.pop(0)
            if not one(job, seed):
                return

    threads = torch.get_num_threads()
    try:
        if first_alone and len(jobs) > 1:
            one(*jobs.pop(0))
        lanes = min(lanes, len(jobs))
        if lanes <= 1:
            lane()  # what is left runs here, on all threads
        else:
            torch.set_num_threads(1)
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
