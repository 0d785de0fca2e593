"""cantor's command line: parses, calls the engine or the composer, prints. No logic of its own."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from commands import command_modules

__version__ = "0.1.0"


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line, `cantor: error: ...`, and exit status 2 (no usage block)."""

    def error(self, message: str):
        print(f"cantor: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cantor",
        description="Compose four-part counterpoint with a neural model, in the terminal."
        " `cantor [FILE] [--ascii] [--checkpoint CKPT]` opens the composer on a MIDI file"
        " (a Bach chorale when no FILE is given); --ascii draws it with plain ASCII only.",
        epilog="`cantor open --help` lists the composer's options.",
    )
    parser.add_argument("--version", action="version", version=f"cantor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        importlib.import_module(f"commands.{name}").register(sub)
    return parser


# Options of the composer that may come first: `cantor --ascii song.mid`.
COMPOSER_OPTIONS = ("--ascii", "--checkpoint", "--model")


def _wants_composer(argv: list[str], commands: set[str]) -> bool:
    """`cantor`, `cantor FILE` or `cantor --ascii [FILE]`: no subcommand given."""
    if not argv:
        return True
    first = argv[0]
    if first.startswith("-"):
        return first.split("=", 1)[0] in COMPOSER_OPTIONS
    return first not in commands


def main(argv: list[str] | None = None) -> int:
    from engine.errors import CantorError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices) if parser._subparsers else set()
    if _wants_composer(argv, commands) and "open" in commands:
        argv = ["open", *argv]
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except CantorError as exc:
        print(f"cantor: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error; silence the flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("cantor: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"cantor: error:{where} {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
