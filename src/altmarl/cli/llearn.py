"""``altmarl llearn``: one L-LEARN best response of the shared local policy (SPEC §4)."""

from __future__ import annotations

import argparse
from pathlib import Path

from altmarl.cli._common import (
    CliError,
    add_allow_other_game,
    add_force,
    add_game_args,
    check_policy_out,
    emit,
    load_game,
    nonneg_int,
    positive_int,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    from altmarl.llearn import ORACLES

    p = subparsers.add_parser(
        "llearn",
        help="best response of the shared local policy to a fixed global policy (L-LEARN)",
        description=(
            "Read a policy directory, keep its global policy, and replace its local policy "
            "by an L-LEARN best response (ucfh: UCFH on the k-chained MDP; planning: exact "
            "planning on it; mean-field: representative agent vs the mean-field flow)."
        ),
    )
    add_game_args(p)
    p.add_argument("--k", type=positive_int, required=True, help="agents the global policy sees")
    p.add_argument(
        "--global-policy-dir",
        type=Path,
        required=True,
        help="policy directory whose global policy is fixed (its local policy is the start)",
    )
    p.add_argument("--oracle", choices=ORACLES, default="ucfh")
    p.add_argument("--seed", type=nonneg_int, default=0)
    p.add_argument(
        "--T",
        type=positive_int,
        default=None,
        help="macro steps of the truncated horizon (default: Lemma C.1, 5%% of r_max/(1-gamma))",
    )
    p.add_argument(
        "--episodes", type=positive_int, default=None, help="UCFH episode budget (ucfh only)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write a policy directory with the global policy and the new local policy",
    )
    add_force(p)
    add_allow_other_game(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from altmarl.llearn import LLearnInfo, best_response
    from altmarl.policy_dir import load_policy_dir, save_policy_dir

    check_policy_out(args.out, args.force)
    game = load_game(args)
    pair = load_policy_dir(
        args.global_policy_dir,
        game,
        allow_other_game=args.allow_other_game,
        flag="--global-policy-dir",
    )
    if pair.global_policy.k != args.k:
        raise CliError(
            f"--k {args.k} does not match the global policy in --global-policy-dir "
            f"(it sees k = {pair.global_policy.k} agents)"
        )
    options = {}
    if args.episodes is not None:
        if args.oracle != "ucfh":
            raise CliError(f"--episodes applies to --oracle ucfh only, not {args.oracle}")
        options["max_episodes"] = args.episodes
    answer = best_response(
        game,
        pair.global_policy,
        args.k,
        local_policy=pair.local_policy,
        oracle=args.oracle,
        seed=args.seed,
        T=args.T,
        **options,
    )
    local, info = answer.policy, answer.info
    assert isinstance(info, LLearnInfo)
    result = info.as_dict()
    result["k"] = args.k
    if args.out is not None:
        save_policy_dir(
            args.out,
            pair.global_policy,
            local,
            game_fingerprint=game.fingerprint,
            extra_meta={"llearn": {"oracle": info.oracle, "value": info.value, "T": info.T}},
        )
        result["out"] = str(args.out)
    human = (
        f"L-LEARN ({info.oracle}, k={args.k}, T={info.T}): value {info.value:.6g} "
        f"(start {info.start_value:.6g}), {info.seconds:.3g} s"
        + (f", {info.episodes} episodes, {info.samples} samples" if info.oracle == "ucfh" else "")
        + (f"; wrote {args.out}" if args.out is not None else "")
    )
    emit(result, args.json, human)
    return 0
