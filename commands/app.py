"""`cantor [FILE]` opens the composer; `cantor serve` runs the same app in a browser."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from commands.generate import add_model_arguments


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
    add_model_arguments(p, default=None)
    p.add_argument("--ascii", action="store_true", help="draw with plain ASCII characters only")
    p.add_argument("--root", help=argparse.SUPPRESS)  # set by `cantor serve`: file prompts stay in it
    p.set_defaults(func=open_composer)

    s = subparsers.add_parser(
        "serve",
        help="run the composer in a web browser (textual-serve)",
        description="Serve the composer over HTTP for a browser. Local only by default; the"
        " printed address holds a random token that the page and its websocket require.",
    )
    s.add_argument("file", nargs="?", help="MIDI file to edit")
    s.add_argument(
        "--host",
        default="127.0.0.1",
        type=lambda text: text[1:-1] if text.startswith("[") and text.endswith("]") else text,
        help="address to listen on (default 127.0.0.1; 0.0.0.0 opens it to the network)",
    )
    s.add_argument("--port", type=_port, default=8000, help="port, 1..65535 (default 8000)")
    s.add_argument(
        "--root",
        default=".",
        help="the only folder the browser may open, save and export in (default: this folder)",
    )
    s.add_argument(
        "--max-sessions",
        type=_sessions,
        default=3,
        help="browser tabs served at once, each its own app process (default 3)",
    )
    add_model_arguments(s, default=None)
    s.set_defaults(func=serve)


def _check_file(path: str | None):
    """Read the file before the screen switches, so a bad file is a one-line error."""
    if not path:
        return None, None
    file = Path(path).expanduser()
    if not file.exists():
        return None, None
    from engine.music.load import load_score_report

    score, report = load_score_report(file)
    return score, report.summary()


def _check_checkpoint(path: str | None) -> None:
    """A missing checkpoint is a one-line error before the screen opens (a bad one is told at
    once in the composer, which loads it in the background)."""
    if path and not Path(path).expanduser().is_file():
        from engine.errors import CantorError

        raise CantorError(f"checkpoint {path} does not exist: give a .pt file from cantor train")


def open_composer(args: argparse.Namespace) -> int:
    _check_checkpoint(args.checkpoint)
    score, report = _check_file(args.file)
    from tui.app import CantorApp

    app = CantorApp(
        args.file,
        score=score,
        report=report,
        checkpoint=args.checkpoint,
        model=args.model,
        ascii_only=True if args.ascii else None,
    )
    app.root = Path(args.root).resolve() if getattr(args, "root", None) else None
    app.run()
    code = int(app.return_code or 0)
    # Leave at once: the interpreter's teardown (torch's, a model still loading in a daemon
    # thread) took seconds after q. Everything the user saved is already on disk.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a whole number in range 1..65535, not {value!r}")
    return port


def _sessions(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = 0
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"must be a whole number in range 1..64, not {value!r}")
    return count


def app_command(args: argparse.Namespace, root: Path) -> list[str]:
    """The command each browser session runs: the composer on `args`' file and model, in `root`."""
    command = [sys.executable, "-m", "cli", "open", "--root", str(root)]
    if args.file:
        command.append(str(Path(args.file).expanduser().resolve()))
    if args.checkpoint:
        command += ["--checkpoint", str(Path(args.checkpoint).expanduser().resolve())]
    if args.model:
        command += ["--model", args.model]
    return command


def serve(args: argparse.Namespace) -> int:
    from engine.errors import CantorError

    root = Path(args.root).expanduser().resolve()
    if not root.is_dir():
        what = "not a folder" if root.exists() else "no such folder"
        raise CantorError(f"--root {args.root}: {what}")
    _check_file(args.file)
    try:
        from tui.web.server import CantorServer
    except ImportError as exc:
        raise CantorError("textual-serve is not installed: pip install textual-serve") from exc
    command = app_command(args, root)
    server = CantorServer(
        command, host=args.host, port=args.port, root=root, max_sessions=args.max_sessions
    )
    server.bind()  # a port in use is an error before anything is printed
    print(f"cantor: serving {root} (ctrl+c stops); open", file=sys.stderr)
    print(f"    {server.url}", file=sys.stderr, flush=True)
    if not server.loopback_only:
        print(
            "cantor: this address is reachable from the network, unencrypted; anyone holding"
            " the token can edit files in that folder",
            file=sys.stderr,
        )
    server.serve()
    return 0
