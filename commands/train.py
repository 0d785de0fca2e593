"""`cantor train {coconet,accompany}`: train a model on JSB-16th or the music21 chorales."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train the Coconet or the accompaniment model",
        description="Train a model. Runs unchanged under `torchrun --nproc_per_node N`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="presets for --config (coconet): straight16x64 (default), straight32x64, "
               "dilated16x64, dilated32x64, separable32x128, tiny\n"
               "example: cantor train coconet --data jsb16:../shared/data/Jsb16thSeparated.json "
               "--minutes 60")
    parser.add_argument("target", choices=("coconet", "accompany"), help="model to train")
    parser.add_argument("--data", required=True, metavar="SPEC",
                        help="jsb16:PATH (the JSB-16th json) or music21 (chorales music21 ships);"
                             " accompany also takes trio:DIR (melody/bass/drums from MIDI files)")
    parser.add_argument("--out", metavar="DIR", help="run folder (default runs/<target>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--minutes", type=_positive_float, metavar="M",
                        help="stop after M minutes of wall time")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--init", metavar="CKPT",
                        help="coconet: start from this checkpoint's weights (a plain Coconet grows"
                        " zero-weighted structure inputs when the config asks for them)")
    parser.add_argument("--max-steps", type=_positive_int, metavar="N",
                        help="coconet: stop after N more steps (counted from a resumed run's"
                        " step); accompany: N steps for each of its two phases in all, counted"
                        " from the run's start")
    parser.add_argument("--batch-size", type=_positive_int, metavar="B",
                        help="examples per step and process")
    parser.add_argument("--lr", type=_positive_float, help="peak learning rate")
    parser.add_argument("--threads", type=_positive_int, metavar="N",
                        help="torch threads per process (default min(2, CPUs))")
    parser.add_argument("--config", metavar="JSON|PRESET",
                        help="a preset name or a JSON object of model/training settings")
    parser.set_defaults(func=run)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1; got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0; got {text}")
    return value


def run(args) -> int:
    from engine.errors import CantorError

    if args.target == "accompany":
        if importlib.util.find_spec("engine.training.accompany") is None:
            raise CantorError("training the accompaniment model is not available in this build "
                              "(engine/training/accompany.py is missing)")
        from engine.training.accompany import read_config_spec, train_accompany

        if args.config:
            read_config_spec(args.config)  # a bad --config is refused before any data loads
        args.out = args.out or "runs/accompany"
        result = train_accompany(args)
    else:
        from engine.training.coconet import parse_config, train_coconet

        if args.config:
            parse_config(args.config)  # a bad --config is refused before any data loads
        args.out = args.out or "runs/coconet"
        result = train_coconet(args)
    if isinstance(result, dict) and os.environ.get("RANK", "0") == "0":  # once under torchrun
        print(json.dumps(result), file=sys.stdout)
    return 0
