"""`cantor check`: a part-writing report (parallels, crossing, ranges, spacing) of a MIDI file."""

from __future__ import annotations


def register(subparsers) -> None:
    check = subparsers.add_parser(
        "check",
        help="report parallel fifths/octaves, voice crossing, ranges and spacing",
        description="Check a four-part MIDI file against the usual part-writing rules and print"
        " each finding with its bar:beat, and the rates per 100 quarter notes.",
    )
    check.add_argument("input", metavar="IN.mid", help="MIDI file to check")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(func=run_check)


def run_check(args) -> int:
    import json

    from engine.music.counterpoint import KIND_NAMES, KINDS, check_score
    from engine.music.load import load_score

    score = load_score(args.input)
    report = check_score(score)
    if args.json:
        print(json.dumps({"file": str(args.input), **report.to_dict()}, indent=2))
        return 0
    total = len(report.findings)
    print(f"{args.input}: {report.quarter_notes:g} quarter notes, {total} finding{'s' * (total != 1)}")
    for f in report.findings:
        print(f"  {f.location:>7}  {KIND_NAMES[f.kind]:<24}  {f.detail}")
    print(f"\n  {'rule':<24}  {'count':>5}  per 100 quarters")
    rates = report.rates
    for kind in KINDS:
        print(f"  {KIND_NAMES[kind]:<24}  {report.counts[kind]:>5}  {rates[kind]:.2f}")
    return 0
