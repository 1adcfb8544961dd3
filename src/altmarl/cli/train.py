"""``altmarl train``: ALTERNATING-MARL (Algorithm 14) with checkpoints and resume."""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from altmarl.cli._common import (
    CliError,
    add_allow_other_game,
    add_game_args,
    at_least_two,
    big_int,
    check_k_n,
    emit,
    load_game,
    nonneg_int,
    positive_float,
    positive_int,
    probability,
    samples_or_exact,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="learn an approximate Nash equilibrium by ALTERNATING-MARL",
        description=(
            "Alternate G-LEARN and L-LEARN under the UPDATE rule (SPEC §5), checkpointing "
            "after every proposal. With only --out it trains on the warehouse with defaults."
        ),
    )
    add_game_args(p, required=False)
    _add_problem_args(p)
    _add_update_args(p)
    _add_proposal_args(p)
    _add_run_args(p)
    p.set_defaults(func=run)


def _add_problem_args(p: argparse.ArgumentParser) -> None:
    """The system and the alternation: ``k``, ``n``, G-LEARN's ``m``, the players' order."""
    from altmarl.alternating import PLAYERS
    from altmarl.llearn import ORACLES

    p.add_argument("--k", type=positive_int, default=10, help="subsample size (default 10)")
    p.add_argument("--n", type=big_int, default=1000, help="number of local agents (default 1000)")
    p.add_argument(
        "--m", type=samples_or_exact, default=30, help="G-LEARN samples per entry, or 'exact'"
    )
    p.add_argument("--alternations", type=positive_int, default=10)
    p.add_argument(
        "--order",
        choices=[f"{a}-{b}" for a, b in itertools.permutations(PLAYERS)],
        default="local-global",
        help="which player moves first in each alternation",
    )
    p.add_argument("--local-oracle", choices=ORACLES, default="mean-field")


def _add_update_args(p: argparse.ArgumentParser) -> None:
    """How UPDATE (SPEC §5) judges a proposal: tolerance, evaluation, error and budget."""
    from altmarl.alternating import EVALUATIONS

    p.add_argument(
        "--eps-tol",
        type=positive_float,
        default=None,
        help="UPDATE tolerance radius (default 0.005 r_max/(1-gamma))",
    )
    p.add_argument(
        "--evaluation",
        choices=EVALUATIONS,
        default="auto",
        help="how UPDATE estimates values: exact count chain (tiny n), common-random-number "
        "rollouts with a sequential test, or auto (exact where the chain fits; the default)",
    )
    p.add_argument(
        "--delta",
        type=probability,
        default=0.05,
        help="UPDATE's error probability per decision (rollouts; default 0.05)",
    )
    p.add_argument(
        "--max-update-rollouts",
        type=positive_int,
        default=1024,
        help="UPDATE's budget of rollouts per pair; past it the decision is inconclusive",
    )
    p.add_argument(
        "--update-horizon",
        type=positive_int,
        default=None,
        help="UPDATE's rollout horizon (default: truncation bias <= eps_tol/4)",
    )


def _add_proposal_args(p: argparse.ArgumentParser) -> None:
    """What each step proposes (its candidates, variants, accuracy) and UPDATE's batch."""
    from altmarl.alternating import GLOBAL_CANDIDATES

    p.add_argument(
        "--global-candidates",
        choices=GLOBAL_CANDIDATES,
        default="g-learn",
        help="the global proposal: G-LEARN's policy (paper), or the best under common "
        "random numbers of it, its conservative versions and the constant dispatchers",
    )
    p.add_argument(
        "--n-aware-local",
        action="store_true",
        help="offer UPDATE the local oracle's answer with its deterministic projection and "
        "(tiny n) an exact n-agent search, judged on the n-agent system",
    )
    p.add_argument(
        "--reuse-global-response",
        action="store_true",
        help="a global step facing the local policy of the last G-LEARN call reuses that "
        "call's Q instead of sampling anew",
    )
    p.add_argument(
        "--tol",
        type=positive_float,
        default=1e-6,
        help="G-LEARN's certified accuracy of Q (default 1e-6; the warehouse study uses 1e-2)",
    )
    p.add_argument(
        "--update-rollouts",
        type=at_least_two,
        default=32,
        help="UPDATE's first batch of rollouts per pair (it doubles until the decision is "
        "clear), and rollouts per candidate when choosing among candidates (default 32)",
    )


def _add_run_args(p: argparse.ArgumentParser) -> None:
    """The final evaluation, the seed, the run directory and the output."""
    p.add_argument("--rollouts", type=positive_int, default=50, help="final evaluation rollouts")
    p.add_argument(
        "--horizon", type=positive_int, default=100, help="final evaluation horizon (default 100)"
    )
    p.add_argument("--seed", type=nonneg_int, default=0)
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_allow_other_game(p)
    p.add_argument(
        "--no-baselines",
        action="store_true",
        help="skip evaluating the constant and uniform dispatchers",
    )
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from altmarl.alternating import AlternatingConfig
    from altmarl.training import train_and_compare

    game = load_game(args)
    check_k_n(args.k, args.n)
    if args.max_update_rollouts < args.update_rollouts:
        raise CliError(
            f"--max-update-rollouts {args.max_update_rollouts} must be >= --update-rollouts "
            f"{args.update_rollouts}"
        )
    config = AlternatingConfig(
        k=args.k,
        n=args.n,
        alternations=args.alternations,
        order=tuple(args.order.split("-")),
        eps_tol=args.eps_tol,
        evaluation=args.evaluation,
        delta=args.delta,
        update_rollouts=args.update_rollouts,
        max_update_rollouts=args.max_update_rollouts,
        update_horizon=args.update_horizon,
        final_rollouts=args.rollouts,
        final_horizon=args.horizon,
        seed=args.seed,
        m=args.m,
        local_oracle=args.local_oracle,
        global_candidates=args.global_candidates,
        reuse_global_response=args.reuse_global_response,
        n_aware_local=args.n_aware_local,
        tol=args.tol,
    )
    report = train_and_compare(
        game,
        config,
        args.out,
        resume=args.resume,
        allow_other_game=args.allow_other_game,
        baselines=not args.no_baselines,
    )
    out = report.summary(game, config)
    lo, hi = out["value_ci"]
    human = (
        f"{game.name}: k={args.k} n={args.n}  value {out['value']:.4f} "
        f"(95% CI [{lo:.4f}, {hi:.4f}])\n"
        f"proposals {out['proposals']}: accepted {out['accepted']}, rejected "
        f"{out['rejected']}, inconclusive {out['inconclusive']}, terminated early: "
        f"{out['terminated_early']}  ({out['seconds']:.1f} s)\n"
        f"UPDATE: {out['evaluation']}\n"
    )
    if "best_constant_dispatcher_value" in out:
        human += (
            f"baselines: best constant dispatcher {out['best_constant_dispatcher_value']:.4f}, "
            f"uniform dispatcher {out['uniform_dispatcher_value']:.4f}\n"
        )
    human += f"policy: {args.out / 'policy'}  history: {args.out / 'history.csv'}"
    emit(out, args.json, human)
    return 0
