"""`cantor bench`: latency figures of this machine, from every benchmark module there is."""

from __future__ import annotations

import argparse

from engine.coconet.defaults import MODEL_NAMES


def register(subparsers) -> None:
    bench = subparsers.add_parser(
        "bench",
        help="measure latencies (model, sampling, audio, TUI) on this machine",
        description="Run every benchmark module (engine/benchmarks/*, tui/bench) and print the"
        " medians: milliseconds unless the key says otherwise.",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--repeats", type=_repeats, default=5, metavar="N",
                       help="runs per figure; the median is reported (default 5)")
    bench.add_argument("--only", metavar="NAMES",
                       help="comma-separated benchmark modules to run, e.g. model,audio")
    bench.add_argument("--model", choices=MODEL_NAMES,
                       help="the shipped model the sampling figures use (default: standard, or the"
                       " checkpoint named by $CANTOR_BENCH_CHECKPOINT)")
    bench.set_defaults(func=run_bench)


def _repeats(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"repeats must be a whole number in range 1..1000; got {text!r}")
    return value


def run_bench(args) -> int:
    import json
    import sys

    from engine.benchmarks import benchmark_modules, run_all, short_name
    from engine.errors import CantorError

    only = None
    if args.only is not None:
        only = {n.strip() for n in args.only.split(",") if n.strip()}
        if not only:
            raise CantorError("--only names no benchmark: give names separated by commas")
    if only:
        known = {short_name(m) for m in benchmark_modules()}
        unknown = sorted(only - known)
        if unknown:
            raise CantorError(
                f"unknown benchmark {unknown[0]!r}: choose from {', '.join(sorted(known))}"
            )
    if args.model:  # the benchmark modules and their subprocesses read it
        import os

        from engine.coconet.loading import model_checkpoint

        os.environ["CANTOR_BENCH_CHECKPOINT"] = str(model_checkpoint(args.model))
    log = None if args.json else (lambda text: print(text, file=sys.stderr, flush=True))
    results = run_all(args.repeats, only, log=log)
    failed = 1 if results.get("errors") else 0  # the figures of the others are still printed
    if args.json:
        print(json.dumps(results, indent=2))
        return failed
    for key, value in results.items():
        if isinstance(value, float):
            value = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        print(f"{key:<28} {value}")
    for name, error in results.get("errors", {}).items():
        print(f"cantor: error: benchmark {name} failed: {error}", file=sys.stderr)
    return failed
