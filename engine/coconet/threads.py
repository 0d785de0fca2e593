"""How many CPU threads the sampler uses, and whether bf16 pays off: decided once per machine.

Timing the network on all cores and on one costs most of a second, so it is done once and the
choice is kept in `$XDG_CACHE_HOME/cantor/threads.json` (else `~/.cache/cantor/`), keyed by the
machine's core count, torch's version and the network's shape. Deleting the file is safe: the next
start measures again. At every start a cheap rule comes first: when other processes already hold
the cores (busy(): what they used while this process started, else the load average), one thread
is used (OpenMP threads that share cores with other busy processes wait on each other and can be
several times slower than one thread), and nothing is measured or cached then, so a choice made
while other work held the cores is never kept. The load average lags by a minute, so the
measurement also checks /proc/stat: when other processes used more than OTHERS_LIMIT of a core
while it ran, its choice serves this start only and is not kept.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

CACHE_NAME = "threads.json"
# Cores' worth of CPU time other processes may use during the measurement for its choice to be kept.
OTHERS_LIMIT = 0.25
# Part of every cache key: raised when choices cached by older code should be measured again (2:
# those older choices may have been timed while other processes held the cores; 3: they timed the
# model under autocast, not the fused net that samples in bf16).
CACHE_VERSION = 3
# busy() reads what other processes did over a window of this many seconds (shortest, longest).
WINDOW = (0.2, 5.0)


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cantor" / CACHE_NAME


def bf16_is_native() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX), so autocast pays off."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_key(model, precision: str) -> str:
    import torch

    c = model.config
    return (f"v{CACHE_VERSION} cores={cores()} torch={torch.__version__} precision={precision}"
            f" net={c.depth}x{c.width}{f'/{c.inner}' if c.inner else ''}k{c.kernel}")


def busy() -> bool:
    """Other processes already hold the cores: the load average says so, or, better, what they
    used while this process started (it counts this process as one more core busy in both).

    The load average lags by a minute, so right after one cantor command a second one would see
    the first's load and take one thread. A start-up costs a second or so (importing torch,
    loading the model), and /proc/stat tells how much CPU other processes used meanwhile: that
    window, since this module was imported or since the last verdict, decides when it is
    WINDOW[0]..WINDOW[1] seconds long. A call sooner than that repeats the last verdict (or asks
    the load average when there is none yet); a window longer than that is too old to tell, so
    the load average decides and a new window starts."""
    global _since, _verdict
    limit = cores() - 0.5
    now = cpu_snapshot()
    if _since is not None and now is not None:
        seconds = now[2] - _since[2]
        if seconds < WINDOW[0]:
            if _verdict is not None:
                return _verdict
        elif seconds <= WINDOW[1]:
            share = others_share(_since, now)
            _since = now
            if share is not None:
                _verdict = share + 1 >= limit
                return _verdict
        else:
            _since, _verdict = now, None
    elif now is not None:
        _since = now
    try:
        return os.getloadavg()[0] >= limit
    except OSError:
        return False


def measure_threads(model, precision_context) -> int:
    """Whichever of all cores or one runs a 2-bar forward pass faster right now (sets torch)."""
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


def cpu_snapshot() -> tuple[float, float, float] | None:
    """(seconds all cores were busy since boot, this process's CPU seconds, wall clock), or None
    where /proc/stat cannot be read."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(f) for f in handle.readline().split()[1:]]
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy_seconds = (sum(fields[:8]) - idle) / ticks  # guest time is already counted in user
    own = os.times()
    return busy_seconds, own.user + own.system, time.monotonic()


def others_share(before: tuple[float, float, float] | None,
                 after: tuple[float, float, float] | None = None) -> float | None:
    """Cores' worth of CPU time other processes used since `before` (until `after`, default
    now); None when unknown."""
    after = cpu_snapshot() if after is None else after
    if before is None or after is None or after[2] <= before[2]:
        return None
    others = (after[0] - before[0]) - (after[1] - before[1])
    return max(0.0, others) / (after[2] - before[2])


def read_cache(key: str) -> int | None:
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
        threads = int(data[key])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return threads if 1 <= threads <= 1024 else None


def write_cache(key: str, threads: int) -> None:
    """Remember the choice; a cache that cannot be written is not an error (next start measures)."""
    from engine.errors import CantorError
    from engine.fileio import atomic_output

    path = cache_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        data = {}
    data[key] = int(threads)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path, "thread cache", error=CantorError, sync=False) as temporary:
            Path(temporary).write_text(json.dumps(data, indent=1), encoding="utf-8")
    except (OSError, CantorError):
        pass


def choose_threads(model, precision: str, precision_context) -> int:
    """Set torch's thread count for this machine: cached choice (measured once), one when busy."""
    import torch

    if torch.get_num_threads() <= 1:
        return 1
    if busy():  # one thread now; and no measuring: other processes would decide the choice
        torch.set_num_threads(1)
        return 1
    key = machine_key(model, precision)
    threads = read_cache(key)
    if threads is None:
        before = cpu_snapshot()
        threads = measure_threads(model, precision_context)
        share = others_share(before)
        if share is None or share <= OTHERS_LIMIT:
            write_cache(key, threads)
    torch.set_num_threads(threads)
    return threads


# Since when busy() looks (set at import: a command's own start-up is the first window), and
# what it last found there.
_since = cpu_snapshot()
_verdict: bool | None = None

__all__ = ["bf16_is_native", "cache_path", "choose_threads", "measure_threads"]
