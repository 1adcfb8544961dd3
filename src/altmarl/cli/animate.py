"""``altmarl animate``: one episode of online execution as a GIF (or MP4 with ffmpeg)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from altmarl.cli._common import (
    CliError,
    add_game_args,
    big_int,
    check_k_n,
    emit,
    load_game,
    nonneg_int,
    positive_int,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "animate",
        help="render one episode of a trained pair as a GIF (MP4 with ffmpeg)",
        description=(
            "Per step: the population over local states, the k sampled agents highlighted, "
            "the global state and action. Tabular: --policy-dir with --scenario/--game, --n, "
            "--k; continuous: --continuous-run DIR (needs the [deep] extra)."
        ),
    )
    add_game_args(p, required=False)
    p.add_argument("--policy-dir", type=Path, default=None, help="tabular policy directory")
    p.add_argument(
        "--continuous-run",
        type=Path,
        default=None,
        metavar="DIR",
        help="a run directory of 'reproduce continuous' (robots as points)",
    )
    p.add_argument(
        "--n", type=big_int, default=None, help="local agents (continuous: the run's own)"
    )
    p.add_argument(
        "--k", type=positive_int, default=None, help="subsample size (default: the policy's)"
    )
    p.add_argument(
        "--horizon", type=positive_int, default=None, help="steps (default 100; the run's own)"
    )
    p.add_argument("--seed", type=nonneg_int, default=0, help="the episode's seed")
    p.add_argument("--fps", type=positive_int, default=8, help="frames per second (default 8)")
    p.add_argument(
        "--out", type=Path, required=True, help="episode.gif, or episode.mp4 with ffmpeg"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from altmarl.experiments.animation import check_output

    check_output(args.out)  # a bad suffix fails before anything is simulated
    t0 = time.perf_counter()
    if args.continuous_run is not None:
        if args.policy_dir is not None or args.scenario is not None or args.game is not None:
            raise CliError("--continuous-run takes no --policy-dir, --scenario or --game")
        out = _continuous(args)
    else:
        out = _tabular(args)
    emit(
        {"out": str(out), "bytes": out.stat().st_size, "seconds": time.perf_counter() - t0},
        args.json,
    )
    return 0


def _tabular(args: argparse.Namespace) -> Path:
    from altmarl.experiments.animation import animate_game
    from altmarl.policy_dir import load_policy_dir

    if args.policy_dir is None:
        raise CliError("--policy-dir is required (or give --continuous-run DIR)")
    if args.scenario is None and args.game is None:
        raise CliError("one of --scenario or --game is required with --policy-dir")
    game = load_game(args)
    pair = load_policy_dir(args.policy_dir, game)
    k = pair.global_policy.k if args.k is None else args.k
    n = 1000 if args.n is None else args.n
    check_k_n(k, n)
    return animate_game(
        game,
        pair.global_policy,
        pair.local_policy,
        args.out,
        n=n,
        k=k,
        horizon=100 if args.horizon is None else args.horizon,
        seed=args.seed,
        fps=args.fps,
    )


def _continuous(args: argparse.Namespace) -> Path:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise CliError("--continuous-run needs torch: pip install 'altmarl[deep]'") from None
    from altmarl.experiments.animation import animate_continuous_run

    if not args.continuous_run.is_dir():
        raise CliError(f"--continuous-run {args.continuous_run}: no such directory")
    return animate_continuous_run(
        args.continuous_run,
        args.out,
        n=args.n,
        k=args.k,
        horizon=args.horizon,
        seed=args.seed,
        fps=args.fps,
    )
