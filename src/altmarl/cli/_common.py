"""Shared pieces of the command line: argument types, game loading, output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from altmarl.errors import AltmarlError
from altmarl.game import TabularGame


class CliError(AltmarlError):
    """A bad command-line argument (exit status 2, one line on stderr)."""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be >= 0")
    return value


def at_least_two(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"{value} must be >= 2")
    return value


def probability(text: str) -> float:
    """A number strictly between 0 and 1 (an error probability)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{value} must lie strictly between 0 and 1")
    return value


def big_int(text: str) -> int:
    """A positive integer that may be written 1e9 or 10**9."""
    try:
        value = int(float(text)) if ("e" in text.lower()) else int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def samples_or_exact(text: str) -> int | None:
    if text.strip().lower() in ("exact", "inf", "none"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer or 'exact'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1 (samples per entry) or 'exact'")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"{value} must be a finite number > 0")
    return value


def add_game_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--scenario NAME | --game FILE.npz`` (mutually exclusive)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--scenario", help="built-in scenario name (warehouse)")
    group.add_argument("--game", type=Path, help="game .npz with P_g, P_l, r_g, r_l, gamma")


def load_game(args: argparse.Namespace) -> TabularGame:
    from altmarl.scenarios import get_scenario

    if getattr(args, "game", None) is not None:
        return TabularGame.from_npz(args.game)
    return get_scenario(args.scenario or "warehouse")


def check_k_n(k: int, n: int) -> None:
    if k > n:
        raise CliError(f"--k {k} must be <= --n {n} (the global agent samples k of n agents)")


def emit(result: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    """Print one JSON object (``--json``) or a human-readable summary."""
    if as_json:
        print(json.dumps(result, default=_jsonable))
    else:
        if human is not None:
            print(human)
        else:
            for key, value in result.items():
                print(f"{key:>20}: {value}")
    sys.stdout.flush()


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")
