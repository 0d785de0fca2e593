"""`cantor evaluate`: orderless NLL per cell of a Coconet checkpoint on a data split."""

from __future__ import annotations

import argparse
import json
import sys

from commands.generate import add_model_arguments, checkpoint_of, seed_number


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="orderless NLL per cell of a model on a data split",
        description="Orderless NLL per cell (nats) on whole pieces: K masks per piece, each of "
                    "m ~ U{1..4T} random cells; mean -log p over masked non-silent cells.")
    parser.add_argument("--data", required=True, metavar="SPEC",
                        help="jsb16:PATH (the JSB-16th json) or music21")
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"),
                        help="split to score (default test)")
    add_model_arguments(parser)
    parser.add_argument("--baseline", action="store_true",
                        help="score the per-voice pitch-frequency baseline (fit on train) instead")
    parser.add_argument("--draws", type=_positive_int, default=8, metavar="K",
                        help="random masks per piece (default 8)")
    parser.add_argument("--seed", type=seed_number, default=0, help="seed of the masks (default 0)")
    parser.add_argument("--threads", type=_positive_int, metavar="N", help="torch threads")
    parser.add_argument("--no-metadata", action="store_true",
                        help="a structure-aware model sees its pieces' boundaries only, not their"
                        " meter, fermatas and key")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1; got {text}")
    return value


def run(args) -> int:
    import torch

    from engine.coconet.checkpoint import file_sha256
    from engine.coconet.loading import DEFAULT_COCONET, load_coconet
    from engine.training.datasets import load_data, pieces_to_classes
    from engine.training.evaluate import format_nll, orderless_nll

    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_data(args.data)
    pieces = pieces_to_classes(data.split(args.split))
    if args.baseline:
        from engine.training.baseline import VoiceFrequencyBaseline

        model = VoiceFrequencyBaseline.fit(pieces_to_classes(data.split("train")))
        digest = None
    else:
        checkpoint = checkpoint_of(args)
        model = load_coconet(checkpoint, for_inference=True)
        digest = file_sha256(checkpoint or DEFAULT_COCONET)
    if not pieces:
        from engine.errors import CantorError

        raise CantorError(f"the {args.split} split has no pieces within the model's range to score")
    structures, given, with_metadata = None, False, 0
    if getattr(getattr(model, "config", None), "cond_planes", 0) and not args.no_metadata:
        from engine.training.structure_setup import classes_and_structures, piece_metadata

        metas = piece_metadata(args.data, data)[args.split]
        structures = classes_and_structures(data.split(args.split), metas)[1]
        given = any(metas)  # music21 data has none; JSB-16th has a key (estimated) at least
        with_metadata = sum(1 for meta in metas if meta and meta.get("source"))  # matched
    result = orderless_nll(model, pieces, draws=args.draws, seed=args.seed, structures=structures)
    report = {"split": args.split, "pieces": result["pieces"], "draws": result["draws"],
              "seed": result["seed"], "stratified": result["stratified"],
              "nll_per_cell": result["nll_per_cell"],
              "nll_per_cell_cells": result["nll_per_cell_cells"],
              "nll_per_cell_with_silence": result["nll_per_cell_with_silence"],
              "metadata": given,  # metadata conditioned the model (not only the boundaries)
              "metadata_pieces": with_metadata,  # pieces matched to their music21 chorale
              "checkpoint_sha256": digest, "seconds": result["seconds"]}
    if args.json:
        print(json.dumps(report))
    else:
        what = "baseline (per-voice pitch frequencies)" if args.baseline else f"sha256 {digest[:12]}"
        print(f"{args.split}: {report['pieces']} pieces, {args.draws} draws, seed {args.seed}, "
              f"{what}", file=sys.stdout)
        print(f"NLL per cell {format_nll(report['nll_per_cell'])} nats "
              f"(with silence {format_nll(report['nll_per_cell_with_silence'])}), "
              f"{report['seconds']:.1f} s")
    return 0
