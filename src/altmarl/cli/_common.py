"""Shared pieces of the command line: argument types, game loading, output."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from altmarl.counts import MAX_POPULATION
from altmarl.errors import AltmarlError, GameValidationError
from altmarl.game import TabularGame

#: Exit status of a sweep that wrote everything it could but has jobs without a result.
EXIT_JOBS_FAILED = 3


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
    """A population size ``1 <= n <= 10**18`` that may be written 1e9, 10**9 or 1_000_000."""
    try:
        if "**" in text:
            base, _, power = text.partition("**")
            b, e = int(base), int(power)
            value = Decimal(b) ** e if 0 <= e <= 64 else Decimal("Infinity")
        else:
            value = Decimal(text.strip().replace("_", ""))
    except (ValueError, ArithmeticError):
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be >= 1")
    if value > MAX_POPULATION:
        raise argparse.ArgumentTypeError(
            f"{text} is over 10**18, the largest population the 64-bit counts of the "
            "simulators hold"
        )
    return int(value)


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
    group.add_argument(
        "--scenario", help="built-in scenario: warehouse, federated or grid (docs/scenarios/)"
    )
    group.add_argument("--game", type=Path, help="game .npz with P_g, P_l, r_g, r_l, gamma")


def add_allow_other_game(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-other-game",
        action="store_true",
        help="use a policy (or continue a run) made for another game (its fingerprint "
        "differs); refused otherwise",
    )


def add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite the policy files of an existing --out directory",
    )


def load_game(args: argparse.Namespace) -> TabularGame:
    from altmarl.scenarios import get_scenario

    path = getattr(args, "game", None)
    if path is not None:
        try:
            return TabularGame.from_npz(path)
        except GameValidationError as exc:
            msg = str(exc)
            msg = f"--game {msg}" if msg.startswith(str(path)) else f"--game {path}: {msg}"
            raise CliError(msg) from None
    return get_scenario(args.scenario or "warehouse")


def check_policy_out(path: Path | None, force: bool) -> None:
    """Before any work: ``--out`` must not be a file, a training run's checkpoint, or (without
    ``--force``) a non-empty directory."""
    from altmarl.alternating.rundir import owning_run
    from altmarl.policy_dir import check_policy_out as check_dir

    if path is None:
        return
    owner = owning_run(path)
    if owner is not None:
        raise CliError(
            f"--out {path} is the checkpoint of the training run in {owner}; write the "
            "policy elsewhere (--force does not apply to a run's files)"
        )
    check_dir(path, force)


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
