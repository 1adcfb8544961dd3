"""``altmarl evaluate``: online execution of a trained policy directory."""

from __future__ import annotations

import argparse

from altmarl.cli._common import (
    CliError,
    add_allow_other_game,
    add_game_args,
    big_int,
    check_k_n,
    emit,
    load_game,
    nonneg_int,
    positive_int,
)
from altmarl.cli.evaluate_continuous import add_arguments as add_continuous_arguments
from altmarl.simulate.rollouts import SIMULATORS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a policy directory by online execution (or exactly, tiny n)",
        description=(
            "Evaluate a tabular policy directory (--policy-dir with --scenario/--game, --n, "
            "--k) or a trained continuous run (--continuous-run DIR, needs the [deep] extra)."
        ),
    )
    p.add_argument("--policy-dir", default=None, help="tabular policy directory")
    add_game_args(p, required=False)
    p.add_argument("--n", type=big_int, default=None)
    p.add_argument("--k", type=positive_int, default=None)
    p.add_argument("--rollouts", type=positive_int, default=50)
    p.add_argument(
        "--horizon",
        type=positive_int,
        default=None,
        help="rollout horizon (default 100; a continuous run's own horizon)",
    )
    p.add_argument("--simulator", choices=SIMULATORS, default="counts")
    p.add_argument(
        "--exact",
        action="store_true",
        help="also compute the exact value on the count chain (tiny n)",
    )
    p.add_argument("--seed", type=nonneg_int, default=0)
    add_allow_other_game(p)
    p.add_argument("--json", action="store_true")
    add_continuous_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from altmarl.policy_dir import load_policy_dir
    from altmarl.simulate import evaluate

    if args.continuous_run is not None:
        from altmarl.cli.evaluate_continuous import run_continuous

        return run_continuous(args)
    for flag, value in (("--policy-dir", args.policy_dir), ("--n", args.n), ("--k", args.k)):
        if value is None:
            raise CliError(f"{flag} is required (or give --continuous-run DIR)")
    if args.scenario is None and args.game is None:
        raise CliError("one of --scenario or --game is required with --policy-dir")
    if args.horizon is None:
        args.horizon = 100
    game = load_game(args)
    pair = load_policy_dir(args.policy_dir, game, allow_other_game=args.allow_other_game)
    check_k_n(args.k, args.n)
    if args.exact:
        from altmarl.exact import check_chain_size

        check_chain_size(game, args.n)  # before the Monte Carlo part, not after
    t0 = time.perf_counter()
    res = evaluate(
        game,
        pair.global_policy,
        pair.local_policy,
        n=args.n,
        k=args.k,
        rollouts=args.rollouts,
        horizon=args.horizon,
        seed=args.seed,
        simulator=args.simulator,
        record=True,
    )
    lo, hi = res.ci()
    out = {
        "game": game.name,
        "policy_dir": str(args.policy_dir),
        "value": res.mean,
        "value_std": res.std,
        "value_ci": [lo, hi],
        "mode_mismatch_rate": res.mode_mismatch_rate,
        "n": args.n,
        "k": args.k,
        "rollouts": args.rollouts,
        "horizon": args.horizon,
        "simulator": args.simulator,
        "seed": args.seed,
    }
    if args.exact:
        from altmarl.exact import exact_value

        out["exact_value_horizon"] = exact_value(
            game, pair.global_policy, pair.local_policy, args.n, args.k, horizon=args.horizon
        )
        out["exact_value"] = exact_value(
            game, pair.global_policy, pair.local_policy, args.n, args.k
        )
    out["seconds"] = time.perf_counter() - t0
    emit(out, args.json)
    return 0
