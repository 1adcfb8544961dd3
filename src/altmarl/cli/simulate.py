"""``altmarl simulate``: online execution (Algorithm 5) of a policy pair, Monte Carlo."""

from __future__ import annotations

import argparse
import time

from altmarl.cli._common import (
    add_allow_other_game,
    add_game_args,
    big_int,
    check_k_n,
    emit,
    load_game,
    nonneg_int,
    positive_int,
)
from altmarl.simulate.rollouts import SIMULATORS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="online execution of a policy pair (uniform policies without --policy-dir)",
        description="Run online execution (SPEC §6) and report discounted returns.",
    )
    add_game_args(p)
    p.add_argument("--policy-dir", help="policy directory (policy.npz + meta.json)")
    p.add_argument("--n", type=big_int, default=1000, help="number of local agents (default 1000)")
    p.add_argument(
        "--k", type=nonneg_int, default=None, help="subsample size (default: the policy's k, or 10)"
    )
    p.add_argument("--rollouts", type=positive_int, default=50)
    p.add_argument("--horizon", type=positive_int, default=100)
    p.add_argument(
        "--simulator",
        choices=SIMULATORS,
        default="counts",
        help="counts: exact on count vectors, any n; agents: one state per agent",
    )
    p.add_argument("--seed", type=nonneg_int, default=0)
    add_allow_other_game(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from altmarl.policies import GlobalPolicy, LocalPolicy, UniformGlobalPolicy
    from altmarl.policy_dir import load_policy_dir
    from altmarl.simulate import evaluate

    game = load_game(args)
    pi_g: GlobalPolicy | UniformGlobalPolicy
    if args.policy_dir:
        pair = load_policy_dir(args.policy_dir, game, allow_other_game=args.allow_other_game)
        pi_g, pi_l = pair.global_policy, pair.local_policy
        k = pi_g.k if args.k is None else args.k
        policy = str(args.policy_dir)
    else:
        pi_g = UniformGlobalPolicy(game.num_ag)
        pi_l = LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
        k = 10 if args.k is None else args.k
        policy = "uniform"
    check_k_n(k, args.n)
    t0 = time.perf_counter()
    res = evaluate(
        game,
        pi_g,
        pi_l,
        n=args.n,
        k=k,
        rollouts=args.rollouts,
        horizon=args.horizon,
        seed=args.seed,
        simulator=args.simulator,
    )
    lo, hi = res.ci()
    out = {
        "game": game.name,
        "policy": policy,
        "mean_return": res.mean,
        "std_return": res.std,
        "ci95": [lo, hi],
        "n": args.n,
        "k": k,
        "rollouts": args.rollouts,
        "horizon": args.horizon,
        "simulator": args.simulator,
        "seed": args.seed,
        "seconds": time.perf_counter() - t0,
    }
    human = (
        f"{game.name}: mean discounted return {res.mean:.4f} ± {res.std:.4f} (std), "
        f"95% CI [{lo:.4f}, {hi:.4f}]\n"
        f"n={args.n} k={k} rollouts={args.rollouts} horizon={args.horizon} "
        f"simulator={args.simulator} policy={policy} ({out['seconds']:.2f} s)"
    )
    emit(out, args.json, human)
    return 0
