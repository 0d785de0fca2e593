"""`cantor harmonize`, `cantor infill`, `cantor compose`: the model writes music into MIDI files."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from commands._batch import add_jobs_argument, is_batch, run_batch
from engine.coconet.defaults import (
    DEFAULT_MODEL,
    DEFAULT_REPAIR,
    MAX_REPAIR,
    MAX_SEED,
    MAX_STEPS,
    MAX_TEMPERATURE,
    MAX_VARIANTS,
    MIN_TEMPERATURE,
    MODEL_NAMES,
    SAMPLERS,
)

DEFAULT_ROUNDS = DEFAULT_REPAIR


def register(subparsers) -> None:
    harmonize = subparsers.add_parser(
        "harmonize",
        help="write the other voices around a melody (by default alto, tenor and bass)",
        description="Harmonize a MIDI melody: the kept voices stay as written, the model writes"
        " the others. A single-line file is read as the soprano.",
    )
    harmonize.add_argument("input", nargs="+", metavar="MELODY.mid",
                           help="MIDI file(s) with the melody (several: -o names a folder)")
    _add_output(harmonize)
    harmonize.add_argument("--keep", default="S", metavar="VOICES",
                           help="voices to keep as written, letters from S,A,T,B (default S)")
    harmonize.add_argument("--opening", choices=("tonic", "free"), default="tonic",
                           help="tonic (default): a melody that starts on the key's tonic, third"
                           " or fifth gets the tonic in the bass there; free: the model chooses")
    harmonize.add_argument("--ending", choices=("tonic", "free"), default="tonic",
                           help="tonic (default): a melody that ends on a note of the tonic triad"
                           " gets the tonic in the bass under its last note; free: the model"
                           " chooses")
    _add_sampling_options(harmonize)
    add_jobs_argument(harmonize, _int_in)
    harmonize.set_defaults(func=run_harmonize)

    infill = subparsers.add_parser(
        "infill",
        help="rewrite some bars of some voices",
        description="Erase bars A to B of the given voices and let the model write them anew,"
        " in keeping with everything around them.",
    )
    infill.add_argument("input", nargs="+", metavar="IN.mid",
                        help="MIDI file(s) to work on (several: -o names a folder)")
    _add_output(infill)
    infill.add_argument("--bars", required=True, type=bar_span, metavar="A-B",
                        help="bars to rewrite, e.g. 3-4 or 5 (bar 0 is a pickup)")
    infill.add_argument("--voices", default="SATB", metavar="VOICES",
                        help="voices to rewrite, letters from S,A,T,B (default all)")
    _add_sampling_options(infill)
    add_jobs_argument(infill, _int_in)
    infill.set_defaults(func=run_infill)

    compose = subparsers.add_parser(
        "compose",
        help="write a new four-part piece from nothing",
        description="Compose a four-part piece of the given length and meter.",
    )
    _add_output(compose)
    compose.add_argument("--bars", type=_int_in(1, 512, "bars"), default=8, metavar="N",
                         help="number of bars (default 8)")
    compose.add_argument("--meter", type=meter, default=(4, 4), metavar="N/D",
                         help="time signature (default 4/4)")
    compose.add_argument("--pickup", type=_int_in(0, 31, "pickup"), default=0, metavar="BEATS",
                         help="beats before the first bar line (default 0)")
    compose.add_argument("--key", type=_key, metavar="KEY",
                         help="key to compose in, e.g. G, F#m, 'D minor' (default: drawn by the"
                         " seed, as often as Bach's chorales use each key)")
    compose.add_argument("--phrase", type=_int_in(0, 64, "phrase"), metavar="BARS",
                         help="a phrase end (fermata) every BARS bars (default: 2 in 4/4, 4 in"
                         " 3/4 and 6/8; 0: only the last note)")
    compose.add_argument("--opening", choices=("tonic", "free"), default="tonic",
                         help="tonic (default): the bass starts on the key's tonic; free: the"
                         " model chooses")
    compose.add_argument("--ending", choices=("tonic", "free"), default="tonic",
                         help="tonic (default): the last chord has the tonic in the bass and the"
                         " melody; free: the model chooses")
    _add_sampling_options(compose)
    compose.set_defaults(func=run_compose)


def _add_output(parser) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="OUT.mid",
                        help="MIDI file to write (OUT-1.mid ... OUT-N.mid with --variants N);"
                        " a folder (OUTDIR/) for several input files")


def _add_sampling_options(parser) -> None:
    parser.add_argument("--variants", type=_int_in(1, MAX_VARIANTS, "variants"), default=1, metavar="N",
                        help="write N variants, best first by the model's own score (default 1)")
    parser.add_argument("--steps", type=_int_in(1, MAX_STEPS, "steps"), default=96, metavar="N",
                        help="Gibbs rewriting passes after the first fill (default 96);"
                        " ancestral: at most N passes")
    parser.add_argument("--temperature", type=_temperature, default=0.99, metavar="T",
                        help="sampling temperature, lower = safer (default 0.99)")
    parser.add_argument("--seed", type=seed_number, default=0, metavar="S",
                        help="random seed; variant k uses S+k-1 (default 0)")
    parser.add_argument("--repair", type=_int_in(0, MAX_REPAIR, "repair"), default=DEFAULT_ROUNDS,
                        metavar="N", help="voice-leading repair rounds after sampling: redraw the"
                        " notes in parallels, crossings, range and spacing findings and keep what"
                        f" has fewer (default {DEFAULT_ROUNDS}; 0 = off)")
    parser.add_argument("--sampler", choices=SAMPLERS, default="gibbs",
                        help="annealed blocked Gibbs (default) or ancestral")
    parser.add_argument("--chords", type=_chords, default="free", metavar="RHYTHM",
                        help="harmonic rhythm: free (default: the model decides), N chords a bar"
                        " (1, 2, 4, ...), beat, or melody (where the kept melody strikes);"
                        " generated voices hold one note per chord")
    add_model_arguments(parser)
    parser.add_argument("--threads", type=_int_in(1, 256, "threads"), metavar="N",
                        help="CPU threads (default: several variants side by side, one per free"
                        " core; one variant on the thread count measured once on this machine;"
                        " one thread when the cores are busy)")


def add_model_arguments(parser, default: str | None = DEFAULT_MODEL) -> None:
    """--model (a shipped model by name) or --checkpoint (a file), not both; `default` None: the
    composer's, whose settings name the model."""
    which = parser.add_mutually_exclusive_group()
    said = "default: standard" if default else "default: the settings' Model"
    which.add_argument("--model", choices=MODEL_NAMES, default=default,
                       help="shipped model: standard or fast (about 0.8x the time where the net"
                       f" runs in fp32, slightly weaker music); {said}")
    which.add_argument("--checkpoint", metavar="CKPT", help="model checkpoint file (instead of --model)")


def checkpoint_of(args):
    """The checkpoint `args` ask for: --checkpoint, else the --model's file (None: the default)."""
    if getattr(args, "checkpoint", None):
        return args.checkpoint
    name = getattr(args, "model", DEFAULT_MODEL)
    if name == DEFAULT_MODEL:
        return None
    from engine.coconet.loading import model_checkpoint

    return model_checkpoint(name)


# --- argument types ------------------------------------------------------------------------


def seed_number(text: str) -> int:
    """A --seed value: a whole number 0..2^32-1 (larger ones were tracebacks in torch)."""
    return _int_in(0, MAX_SEED, "seed")(text)


def _int_in(low: int, high: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number in range {low}..{high}")
        return value

    return parse


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not MIN_TEMPERATURE <= value <= MAX_TEMPERATURE:
        raise argparse.ArgumentTypeError(
            f"temperature must be a number in range {MIN_TEMPERATURE}..{MAX_TEMPERATURE}; got {text!r}"
        )
    return value


def bar_span(text: str) -> tuple[int, int]:
    """"3-4" -> (3, 4); "5" -> (5, 5)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"bars must look like A-B or A (e.g. 3-4); got {text!r}")
    first = int(match.group(1))
    return first, int(match.group(2) or first)


def meter(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match.group(1)) <= 32 or int(match.group(2)) not in (1, 2, 4, 8, 16):
        raise argparse.ArgumentTypeError(f"meter must be N/D such as 4/4, 3/4 or 6/8; got {text!r}")
    return int(match.group(1)), int(match.group(2))


# --- handlers ------------------------------------------------------------------------------


def run_harmonize(args) -> int:
    return _dispatch(args, harmonize_one)


def run_infill(args) -> int:
    return _dispatch(args, infill_one)


def _dispatch(args, handler) -> int:
    """One input file: its handler; several (or -o OUTDIR/): the batch, model loaded once."""
    inputs = list(args.input) if isinstance(args.input, (list, tuple)) else [args.input]
    if is_batch(inputs, args.output):
        return run_batch(args, inputs, "input", handler)
    args.input = inputs[0]
    return handler(args)


def harmonize_one(args) -> int:
    from engine.errors import ScoreError
    from engine.music.load import load_score
    from engine.music.score import VOICE_NAMES, parse_voices

    keep = parse_voices(args.keep)
    checked_outputs(args.output, args.variants, [args.input])  # fail before sampling
    score = load_score(args.input)
    if not any((score.pitches[v] >= 0).any() for v in keep):
        names = " or ".join(VOICE_NAMES[v].lower() for v in keep)
        raise ScoreError(f"{Path(args.input).name} has no notes in the {names}: nothing to harmonize")
    if len(keep) == 4:
        raise ScoreError("--keep names all four voices: nothing left to write")
    composer = _composer(args)
    result = composer.harmonize(score, keep=keep, opening=args.opening,
                                ending=args.ending, **_options(args))
    return _write(result, args.output)


def infill_one(args) -> int:
    from engine.music.load import load_score
    from engine.music.score import parse_voices

    voices = parse_voices(args.voices)
    checked_outputs(args.output, args.variants, [args.input])  # fail before sampling
    score = load_score(args.input)
    if score.num_bars == 0:
        from engine.errors import ScoreError

        raise ScoreError(f"{Path(args.input).name} has no notes or bars: nothing to fill in")
    start, end = score.bar_range(*args.bars)
    mask = score.region_mask(start, end, voices)
    result = _composer(args).infill(score, mask, **_options(args))
    return _write(result, args.output)


def run_compose(args) -> int:
    from engine.music.score import Score

    checked_outputs(args.output, args.variants)  # fail before sampling, not after
    blank = Score.empty(0, time_signature=args.meter)
    pickup = args.pickup * blank.steps_per_beat
    if pickup >= blank.steps_per_bar:
        num, den = args.meter
        from engine.errors import ScoreError

        raise ScoreError(f"pickup must be shorter than a bar of {num}/{den}; got {args.pickup} beats")
    result = _composer(args).compose(args.bars, args.meter, pickup, key=args.key,
                                     phrase=args.phrase, opening=args.opening,
                                     ending=args.ending, **_options(args))
    return _write(result, args.output)


_COMPOSERS: dict = {}  # one loaded model per (checkpoint, threads) for a batch of files


def _key(text: str) -> str:
    """argparse type: a key name as the user types it -> mido's spelling ("d minor" -> "Dm")."""
    from engine.errors import CantorError
    from engine.music.analysis import parse_key_name

    try:
        return parse_key_name(text)
    except CantorError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _composer(args):
    from engine.coconet.composer import Composer

    checkpoint = checkpoint_of(args)
    key = (checkpoint, args.threads)
    if key not in _COMPOSERS:
        _COMPOSERS[key] = Composer(checkpoint=checkpoint, threads=args.threads).load()
    return _COMPOSERS[key]


def _chords(text: str) -> str:
    from engine.coconet.ties import rhythm_problem

    value = text.strip().lower()
    problem = rhythm_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def _options(args) -> dict:
    return {
        "variants": args.variants,
        "steps": args.steps,
        "temperature": args.temperature,
        "seed": args.seed,
        "sampler": args.sampler,
        "repair": args.repair,
        "chords": args.chords,
        "progress": _progress_line if sys.stderr.isatty() and not getattr(args, "quiet", False)
        else None,
    }


def _progress_line(progress) -> None:
    end = "\n" if progress.step == progress.total else ""
    print(f"\rsampling {progress.step}/{progress.total}", end=end, file=sys.stderr, flush=True)


def checked_outputs(output: str, variants: int, inputs=()) -> list[Path]:
    """Every file a request of `variants` variants will write (OUT.mid, or OUT-1.mid ...), each
    checked before the slow work: none may be an input, a folder, or in a folder that cannot
    take a file, so no set is left half written and no input is ever replaced."""
    from engine.fileio import checked_output

    return [checked_output(path, "MIDI file", inputs=inputs)
            for path in variant_paths(str(output), variants)]


def variant_paths(output: str, count: int) -> list[Path]:
    """OUT.mid for one variant; OUT-1.mid ... OUT-N.mid for several."""
    path = Path(output)
    if count == 1:
        return [path]
    suffix = path.suffix or ".mid"
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return [path.with_name(f"{stem}-{k}{suffix}") for k in range(1, count + 1)]


def _write(result, output: str) -> int:
    from engine.music.midi import save_midi

    for message in result.messages:
        print(f"note: {message}")
    paths = variant_paths(output, len(result.variants))
    for variant, path in zip(result.variants, paths):
        save_midi(variant.score, path)
    from engine.music.counterpoint import check_score

    findings = [len(check_score(v.score).findings) for v in result.variants]
    if len(paths) == 1:
        v = result.variants[0]
        print(f"wrote {paths[0]} (NLL {v.nll:.3f} nats per generated cell, seed {v.seed},"
              f" {findings[0]} part-writing findings)")
        return 0
    print("rank  file  NLL (nats per generated cell, lower is better)  seed  findings")
    for rank, (variant, path, count) in enumerate(zip(result.variants, paths, findings), start=1):
        print(f"{rank:>4}  {path}  {variant.nll:.3f}  {variant.seed}  {count}")
    return 0
