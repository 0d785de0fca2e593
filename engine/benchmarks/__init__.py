"""Latency benchmarks for `cantor bench`.

Every module in this package (and `tui.bench`, when the TUI is installed) has
`measure(repeats: int) -> dict` returning its DESIGN.md keys (medians, ms unless named otherwise).
`run_all` merges them into one dict; a module that fails is reported under "errors".
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import statistics
import time


def median_ms(call, repeats: int) -> float:
    """Median wall time of `call()` over `repeats` runs (at least one), in milliseconds."""
    times = []
    for _ in range(max(1, repeats)):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def benchmark_modules() -> list[str]:
    """Importable names of every benchmark module, engine's first."""
    names = [
        f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")
    ]
    try:
        if importlib.util.find_spec("tui.bench") is not None:
            names.append("tui.bench")
    except ImportError:  # no tui package at all
        pass
    return _ordered(names)


def _ordered(names: list[str]) -> list[str]:
    engine = sorted(n for n in names if n.startswith(__name__))
    return engine + [n for n in names if not n.startswith(__name__)]


def short_name(module: str) -> str:
    return module.rsplit(".", 1)[-1] if module.startswith(__name__) else module


def run_all(repeats: int = 5, only: set[str] | None = None, log=None) -> dict:
    """Run every benchmark module (or those named in `only`) and merge their results."""
    results: dict = {}
    errors: dict[str, str] = {}
    for name in benchmark_modules():
        if only and short_name(name) not in only and name not in only:
            continue
        if log:
            log(f"benchmarking {short_name(name)} ...")
        try:
            results.update(importlib.import_module(name).measure(repeats))
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            errors[short_name(name)] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    if errors:
        results["errors"] = errors
    return results
