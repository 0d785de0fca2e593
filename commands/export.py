"""`cantor export IN.mid -o OUT.musicxml`: MusicXML for notation programs."""

from __future__ import annotations


def register(subparsers) -> None:
    export = subparsers.add_parser(
        "export",
        help="write a MIDI file as MusicXML (.musicxml, .xml, or compressed .mxl)",
        description="Read a MIDI file as cantor does (see `cantor info`) and write it as MusicXML:"
        " four parts, bar lines (a pickup becomes bar 0), notes tied across bar lines.",
    )
    export.add_argument("input", metavar="IN.mid", help="MIDI file to read")
    export.add_argument(
        "-o",
        "--output",
        metavar="OUT.musicxml",
        required=True,
        help="file to write; .musicxml or .xml plain, .mxl compressed",
    )
    export.set_defaults(func=run_export)


def run_export(args) -> int:
    from engine.errors import MusicXMLError
    from engine.fileio import checked_output
    from engine.music.load import load_score_report
    from engine.music.musicxml import save_musicxml

    # Before reading: never over the input (a score's lyrics and extra parts would be lost).
    checked_output(args.output, "MusicXML file", error=MusicXMLError, inputs=[args.input])
    score, report = load_score_report(args.input)
    if not (score.pitches >= 0).any():
        raise MusicXMLError(f"{args.input} has no notes: nothing to export")
    path = save_musicxml(score, args.output)
    print(f"wrote {path} ({score.num_bars} bars; read as {report.summary()})")
    return 0
