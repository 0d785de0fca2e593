"""`cantor [FILE]` opens the composer; `cantor serve` runs the same app in a browser."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "open",
        help="open the composer (the default when no command is given)",
        description="Open the pianoroll composer on FILE (a MIDI file), or on"
        " a Bach chorale when no FILE is given.",
    )
    p.add_argument(
        "file", nargs="?", help="MIDI file to edit (created on save if it does not exist)"
    )
    p.add_argument("--checkpoint", help="Coconet checkpoint (default: the shipped weights)")
    p.add_argument("--ascii", action="store_true", help="draw with plain ASCII characters only")
    p.set_defaults(func=open_composer)

    s = subparsers.add_parser(
        "serve",
        help="run the composer in a web browser (textual-serve)",
        description="Serve the composer over HTTP for a browser; local only by default.",
    )
    s.add_argument("file", nargs="?", help="MIDI file to edit")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    s.add_argument("--checkpoint", help="Coconet checkpoint (default: the shipped weights)")
    s.set_defaults(func=serve)


def _check_file(path: str | None):
    """Read the file before the screen switches, so a bad file is a one-line error."""
    if not path:
        return None, None
    file = Path(path).expanduser()
    if not file.exists():
        return None, None
    from engine.music.midi import load_midi_report

    score, report = load_midi_report(file)
    return score, report.summary()


def open_composer(args: argparse.Namespace) -> int:
    score, report = _check_file(args.file)
    from tui.app import CantorApp

    app = CantorApp(
        args.file,
        score=score,
        report=report,
        checkpoint=args.checkpoint,
        ascii_only=True if args.ascii else None,
    )
    app.run()
    return int(app.return_code or 0)


def serve(args: argparse.Namespace) -> int:
    from engine.errors import CantorError

    _check_file(args.file)
    try:
        from textual_serve.server import Server
    except ImportError as exc:
        raise CantorError("textual-serve is not installed: pip install textual-serve") from exc
    command = [sys.executable, "-m", "cli", "open"]
    if args.file:
        command.append(str(Path(args.file).expanduser().resolve()))
    if args.checkpoint:
        command += ["--checkpoint", str(Path(args.checkpoint).expanduser().resolve())]
    print(f"cantor: serving on http://{args.host}:{args.port} (ctrl+c stops)", file=sys.stderr)
    Server(shlex.join(command), host=args.host, port=args.port, title="cantor").serve()
    return 0
