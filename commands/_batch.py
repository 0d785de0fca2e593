"""Many input files in one command: `cantor harmonize a.mid b.mid c.mid -o outdir/`.

The model is loaded once (per process) and every file goes through the command's own one-file
handler; a bad file gets its one-line error and the others are still written. `--jobs N` hands the
files to N processes (one thread each). A rich progress bar counts the files on a terminal.
"""

from __future__ import annotations

import argparse
import copy
import io
import os
import signal
import sys
from contextlib import closing, redirect_stdout
from pathlib import Path


def add_jobs_argument(parser, int_in) -> None:
    parser.add_argument("--jobs", type=int_in(1, 64, "jobs"), default=1, metavar="N",
                        help="with several input files: run N processes (default 1)")


def is_batch(inputs: list[str], output: str) -> bool:
    """Several inputs, or an output that names a folder (an existing one, or one ending in /)."""
    return len(inputs) > 1 or output.endswith(("/", os.sep)) or Path(output).is_dir()


def output_folder(output: str) -> Path:
    from engine.errors import CantorError

    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise CantorError(f"with several input files, -o must be a folder; {output} is a file")
    if not folder.exists() and folder.suffix.lower() in (".mid", ".midi"):
        raise CantorError(f"with several input files, -o must be a folder, not {output}:"
                          f" name one (e.g. {folder.with_suffix('')}/)")
    if not folder.exists():
        if not folder.parent.is_dir():
            raise CantorError(f"cannot write into {output}: folder {folder.parent} does not exist")
        folder.mkdir()
    return folder


def plan(inputs: list[str], folder: Path) -> list[tuple[str, Path]]:
    """(input, output) pairs: OUTDIR/<input's name>.mid; two inputs with one name are refused."""
    from engine.errors import CantorError

    seen: dict[str, str] = {}
    pairs = []
    for name in inputs:
        stem = Path(name).stem
        if stem in seen:
            raise CantorError(f"{seen[stem]} and {name} would both be written to {stem}.mid in"
                              f" {folder}: rename one or run them apart")
        seen[stem] = name
        pairs.append((name, folder / f"{stem}.mid"))
    return pairs


def run_batch(args, inputs: list[str], input_attr: str, handler) -> int:
    """Run `handler(args)` for every input file; 0 when all were written, 1 when any failed."""
    pairs = plan(inputs, Path(args.output))  # refuse name clashes before making the folder
    output_folder(args.output)
    jobs = []
    for source, target in pairs:
        one = copy.copy(args)
        setattr(one, input_attr, source)
        one.output, one.quiet, one.func = str(target), True, None
        if args.jobs > 1 and getattr(one, "threads", None) is None and hasattr(one, "threads"):
            one.threads = 1  # N processes on N cores: one thread each
        jobs.append(one)
    failures = 0
    results = _results(handler, jobs, args.jobs)
    with _progress_bar(len(jobs)) as bar, closing(results):  # Ctrl-C: the workers stop at once
        for source, (text, error) in zip(inputs, results):
            if error:
                failures += 1
                named = error.startswith((str(source), f"cannot read {source}"))
                print(f"cantor: error: {error if named else f'{source}: {error}'}", file=sys.stderr)
            elif text:
                print(text.rstrip("\n"))
            bar.advance()
    done = len(jobs) - failures
    print(f"{done} of {len(jobs)} files written to {args.output}" + (f"; {failures} failed" if failures else ""))
    return 1 if failures else 0


def _results(handler, jobs, processes: int):
    if processes <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield run_one(handler, job)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a forked torch process can hang in its OpenMP pool.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(min(processes, len(jobs)), mp_context=context,
                               initializer=_worker_signals)
    try:
        futures = [pool.submit(run_one, handler, job) for job in jobs]
        for future in futures:
            yield future.result()
    except BaseException:  # Ctrl-C (or the caller stopped reading): no file is written after it
        workers = list((pool._processes or {}).values())  # no public way to reach them
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()  # SIGTERM: the worker exits, its temporary files removed
        for process in workers:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        raise
    pool.shutdown()


def _worker_signals() -> None:
    """In a --jobs worker: Ctrl-C is the parent's to handle (it stops the workers), and SIGTERM
    ends the worker through Python, so a save in progress removes its temporary file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminated)


class _Stopped(BaseException):
    """SIGTERM in a --jobs worker: unwinds the handler (a save in progress removes its temporary
    file on the way out), then `run_one` ends the process."""


def _terminated(signum, frame) -> None:
    raise _Stopped


def run_one(handler, args: argparse.Namespace) -> tuple[str, str | None]:
    """(what the handler printed, None) or ("", its one-line error)."""
    from engine.errors import CantorError

    out = io.StringIO()
    try:
        with redirect_stdout(out):
            handler(args)
    except _Stopped:
        os._exit(143)  # the pool's worker loop would catch SystemExit and take the next file
    except CantorError as exc:
        return "", str(exc)
    except OSError as exc:
        return "", f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}"
    except Exception as exc:  # noqa: BLE001 - one broken file must not lose the others
        return "", f"{type(exc).__name__}: {exc}".splitlines()[0]
    return out.getvalue(), None


class _progress_bar:
    """A rich bar over the files on a terminal; nothing otherwise."""

    def __init__(self, total: int) -> None:
        self.total, self.progress, self.task = total, None, None

    def __enter__(self):
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self.progress = Progress("files", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                     console=Console(stderr=True), transient=True)
            self.progress.start()
            self.task = self.progress.add_task("files", total=self.total)
        return self

    def advance(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()
