"""The ``altmarl`` command line: thin subcommands that parse, call the library, print.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds a
parser and sets ``func`` (a callable ``(args) -> int``). Bad input exits with status 2
and a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from altmarl._version import __version__
from altmarl.errors import AltmarlError

#: Subcommand modules under ``altmarl.cli``; a new command is a new module listed here.
COMMANDS: tuple[str, ...] = (
    "simulate",
    "glearn",
    "llearn",
    "train",
    "evaluate",
    "certify",
    "exploit",
    "reproduce",
)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="altmarl",
        description="ALTERNATING-MARL: one global agent, n local agents, k-subsampling.",
    )
    parser.add_argument("--version", action="version", version=f"altmarl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"altmarl.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.simplefilter("default")
    try:
        return int(args.func(args) or 0)
    except AltmarlError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"altmarl {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"altmarl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
