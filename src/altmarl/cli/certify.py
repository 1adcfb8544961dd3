"""``altmarl certify``: exact value and Nash-gap bounds of a policy pair (tiny n)."""

from __future__ import annotations

import argparse

from altmarl.cli._common import (
    add_allow_other_game,
    add_game_args,
    big_int,
    check_k_n,
    emit,
    load_game,
    positive_int,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "certify",
        help="exact eps-Nash certificate on the count chain of n agents (tiny systems)",
    )
    add_game_args(p)
    p.add_argument("--policy-dir", required=True)
    p.add_argument("--n", type=big_int, required=True)
    p.add_argument("--k", type=positive_int, required=True)
    p.add_argument(
        "--max-enumerate",
        type=positive_int,
        default=4096,
        help="enumerate restricted classes with at most this many policies",
    )
    add_allow_other_game(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from altmarl.certify import certify
    from altmarl.policy_dir import load_policy_dir

    game = load_game(args)
    pair = load_policy_dir(args.policy_dir, game, allow_other_game=args.allow_other_game)
    check_k_n(args.k, args.n)
    cert = certify(
        game,
        pair.global_policy,
        pair.local_policy,
        args.n,
        args.k,
        max_enumerate=args.max_enumerate,
    )
    emit({"game": game.name, **cert.as_dict()}, args.json)
    return 0
