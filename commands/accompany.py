"""`cantor accompany MELODY.mid -o OUT.mid`: an instant accompaniment, optionally Gibbs-polished."""

from __future__ import annotations

import argparse

from commands._batch import add_jobs_argument, is_batch, run_batch
from commands.generate import _int_in, seed_number
from engine.coconet.defaults import DEFAULT_REPAIR


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "accompany",
        help="write alto, tenor and bass under a melody in one pass (VAE predictor)",
        description="Accompany a melody: a latent code predicted from the melody alone is decoded "
        "into the other three voices; --polish lets the Coconet model refine them.",
        epilog="example: cantor accompany tune.mid -o chorale.mid --variants 3 --polish 32",
    )
    parser.add_argument("melody", nargs="+", metavar="MELODY.mid",
                        help="MIDI file(s) holding the melody (several: -o names a folder)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.mid",
                        help="MIDI file to write (OUT-1.mid ... OUT-N.mid with --variants N);"
                        " a folder (OUTDIR/) for several input files")
    parser.add_argument("--variants", type=_count, default=1, metavar="N",
                        help="number of accompaniments to write, best first (default 1)")
    parser.add_argument("--polish", type=_steps, default=0, metavar="STEPS",
                        help="Gibbs steps of the Coconet model over the accompaniment (default 0)")
    parser.add_argument("--repair", type=_int_in(0, 256, "repair"), default=0, metavar="N",
                        help="voice-leading repair rounds by the Coconet model after the polish"
                        f" (default 0: instant; cantor harmonize uses {DEFAULT_REPAIR})")
    parser.add_argument("--refine", type=_steps, default=10, metavar="STEPS",
                        help="steps fitting the predicted codes to the melody (default 10; 0 = fastest)")
    parser.add_argument("--seed", type=seed_number, default=0, help="random seed (default 0)")
    parser.add_argument("--voice", default=None, metavar="S|A|T|B",
                        help="voice holding the melody (default: the only voice with notes, else S)")
    parser.add_argument("--checkpoint", metavar="CKPT",
                        help="accompaniment model (default: the shipped engine/weights/accompany.pt)")
    parser.add_argument("--coconet", metavar="CKPT",
                        help="Coconet model used by --polish (default: the shipped one)")
    add_jobs_argument(parser, _int_in)
    parser.set_defaults(func=run)


def _count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be in range 1..64; got {text}")
    return value


def _steps(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 10000:
        raise argparse.ArgumentTypeError(f"must be in range 0..10000; got {text}")
    return value


def melody_voice(score, choice: str | None) -> int:
    from engine.music.score import parse_voices

    if choice:
        voices = parse_voices(choice)
        if len(voices) != 1:
            from engine.errors import ScoreError

            raise ScoreError(f"--voice takes one voice letter (S, A, T or B); got {choice!r}")
        return voices[0]
    sounding = [v for v in range(4) if (score.pitches[v] >= 0).any()]
    return sounding[0] if len(sounding) == 1 else 0


def run(args) -> int:
    inputs = list(args.melody) if isinstance(args.melody, (list, tuple)) else [args.melody]
    if is_batch(inputs, args.output):
        return run_batch(args, inputs, "melody", accompany_one)
    args.melody = inputs[0]
    return accompany_one(args)


_MODELS: dict = {}  # loaded once for a batch of files


def _cached(key, make):
    if key not in _MODELS:
        _MODELS[key] = make()
    return _MODELS[key]


def accompany_one(args) -> int:
    from commands.generate import checked_outputs, variant_paths
    from engine.accompany.predict import accompany, load_accompany
    from engine.music.load import load_score
    from engine.music.midi import save_midi

    checked_outputs(args.output, args.variants, [args.melody])  # before the model
    output = args.output
    score = load_score(args.melody)
    voice = melody_voice(score, args.voice)
    model = _cached(("accompany", args.checkpoint), lambda: load_accompany(args.checkpoint))
    if not model.is_chorale:
        return _run_trio(args, model, score, voice)
    composer = None
    if args.polish or args.repair:
        from engine.coconet.composer import Composer

        composer = _cached(("coconet", args.coconet), lambda: Composer(checkpoint=args.coconet))
    result = accompany(score, voice, variants=args.variants, polish=args.polish, seed=args.seed,
                       checkpoint=model, composer=composer, refine=args.refine,
                       repair=args.repair)
    for message in result.messages:
        print(f"note: {message}")
    paths = variant_paths(str(output), len(result.variants))
    for path, variant in zip(paths, result.variants):
        save_midi(variant.score, path)
    what = "Coconet NLL" if args.polish or args.repair else "decoder NLL"
    for rank, (path, variant) in enumerate(zip(paths, result.variants), start=1):
        print(f"{rank:>4}  wrote {path}  ({what} {variant.nll:.3f} nats per cell, seed {variant.seed})")
    return 0


def _run_trio(args, model, score, voice) -> int:
    """A melody/bass/drums model: write melody, bass and drum tracks (no Coconet polish)."""
    from commands.generate import variant_paths
    from engine.accompany.predict import accompany_trio
    from engine.accompany.trio import save_trio_midi
    from engine.errors import CantorError

    if args.polish or args.repair:
        raise CantorError("--polish and --repair need a four-voice model; this one writes bass and drums")
    trios = accompany_trio(score.pitches[voice], variants=args.variants, seed=args.seed,
                           checkpoint=model, refine=args.refine)
    for path, trio in zip(variant_paths(args.output, len(trios)), trios):
        save_trio_midi(trio, path, score.tempo_bpm)
        print(f"wrote {path} (melody, bass, drums)")
    return 0
