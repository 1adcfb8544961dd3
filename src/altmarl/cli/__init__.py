"""The ``altmarl`` command line: thin subcommands that parse, call the library, print.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds a
parser and sets ``func`` (a callable ``(args) -> int``). Every subcommand also takes
``--memory-budget GIB``. Exit status: 0 done; 2 bad input (a one-line message on stderr:
:class:`~altmarl.errors.AltmarlError`, argparse errors); 3 a sweep finished but some of its
jobs failed (``_common.EXIT_JOBS_FAILED``); 130 interrupted. Warnings are one line each.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from altmarl._version import __version__
from altmarl.errors import AltmarlError
from altmarl.memory import ENV_VAR, set_memory_budget

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
    "animate",
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
    _add_memory_budget(parser)
    return parser


def _gib(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of GiB") from None
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number of GiB > 0")
    return value


def _add_memory_budget(parser: argparse.ArgumentParser) -> None:
    """``--memory-budget`` on every (sub-)subcommand."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subs:
        for child in dict.fromkeys(action.choices.values()):
            _add_memory_budget(child)
    if not subs and parser.prog != "altmarl":
        parser.add_argument(
            "--memory-budget",
            type=_gib,
            default=None,
            metavar="GIB",
            help="the most memory one allocation plan may take, in GiB (default: "
            f"${ENV_VAR}, else half the physical memory); checked before allocating",
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    budget_before = os.environ.get(ENV_VAR)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _one_line_warning(args.command)
        try:
            if getattr(args, "memory_budget", None) is not None:
                set_memory_budget(args.memory_budget)  # inherited by worker processes
            return int(args.func(args) or 0)
        except AltmarlError as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"altmarl {args.command}: error: {msg}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"altmarl {args.command}: interrupted", file=sys.stderr)
            return 130
        finally:  # main() may run again in this process (tests)
            if budget_before is None:
                os.environ.pop(ENV_VAR, None)
            else:
                os.environ[ENV_VAR] = budget_before


def _one_line_warning(command: str) -> Callable[..., None]:
    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        text = str(message).strip().splitlines()
        print(
            f"altmarl {command}: warning: {text[0] if text else category.__name__}", file=sys.stderr
        )

    return show


if __name__ == "__main__":
    sys.exit(main())
