"""``altmarl glearn``: the global best response G-LEARN (SPEC §3) to a fixed local policy.

``--out DIR`` writes a policy directory (``policy.npz``, ``meta.json``) with the learned
global policy and the local policy, plus ``q.npy``: the Q table ``[|S_g|, |X|, |A_g|]``
with ``X`` the count vectors in :class:`~altmarl.counts.CountSpace` rank order
(mean-field) or the tuples in :class:`~altmarl.counts.TupleSpace` order (standard).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

from altmarl.cli._common import (
    CliError,
    add_allow_other_game,
    add_force,
    add_game_args,
    check_policy_out,
    emit,
    load_game,
    nonneg_int,
    positive_float,
    positive_int,
    samples_or_exact,
)


def register(sub: argparse._SubParsersAction) -> None:
    from altmarl.glearn import DEFAULT_M, STOPPING_RULES
    from altmarl.policies import PARAMETERIZATIONS

    p = sub.add_parser(
        "glearn",
        help="global best response (G-LEARN) to a local policy",
        description="G-LEARN (SPEC §3): value iteration on the empirical adapted Bellman "
        "operator over k-subsample count vectors (or k-tuples).",
    )
    add_game_args(p)
    p.add_argument("--k", type=positive_int, required=True, help="number of sampled local agents")
    p.add_argument(
        "--m",
        type=samples_or_exact,
        default=DEFAULT_M,
        help=f"samples per entry, or 'exact' for the exact operator (default {DEFAULT_M})",
    )
    p.add_argument("--parameterization", choices=PARAMETERIZATIONS, default="mean-field")
    p.add_argument(
        "--local-policy-dir",
        type=Path,
        default=None,
        help="policy directory whose local policy is fixed (default: uniform)",
    )
    p.add_argument(
        "--tol", type=positive_float, default=1e-6, help="certified accuracy of Q (default 1e-6)"
    )
    p.add_argument(
        "--stopping",
        choices=STOPPING_RULES,
        default="span",
        help="stopping rule (default span: certified, accelerated)",
    )
    p.add_argument("--seed", type=nonneg_int, default=0)
    p.add_argument("--out", type=Path, default=None, help="write a policy directory and q.npy here")
    add_force(p)
    add_allow_other_game(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from altmarl.glearn import GLearnInfo, glearn
    from altmarl.policies import LocalPolicy
    from altmarl.policy_dir import load_policy_dir, save_policy_dir
    from altmarl.storage import atomic_write

    check_policy_out(args.out, args.force)
    game = load_game(args)
    if args.local_policy_dir is not None:
        if not args.local_policy_dir.is_dir():
            raise CliError(f"--local-policy-dir {args.local_policy_dir}: no such directory")
        pi_l = load_policy_dir(
            args.local_policy_dir,
            game,
            allow_other_game=args.allow_other_game,
            flag="--local-policy-dir",
        ).local_policy
        local = str(args.local_policy_dir)
    else:
        pi_l = LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
        local = "uniform"
    res = glearn(
        game,
        pi_l,
        args.k,
        m=args.m,
        parameterization=args.parameterization,
        tol=args.tol,
        seed=args.seed,
        stopping=args.stopping,
    )
    info = res.info
    assert isinstance(info, GLearnInfo)
    out = {
        "game": game.name,
        "k": args.k,
        "m": "exact" if args.m is None else args.m,
        "parameterization": args.parameterization,
        "local_policy": local,
        "iterations": info.iterations,
        "table_size": info.table_size,
        "samples": info.samples,
        "seconds": info.seconds,
        "residual": info.residual,
        "error_bound": info.error_bound,
        "converged": info.converged,
        "stopping": info.stopping,
        "value_mean": res.value_mean,
        "seed": args.seed,
    }
    if args.out is not None:
        save_policy_dir(
            args.out,
            res.policy,
            pi_l,
            game_fingerprint=game.fingerprint,
            extra_meta={
                "source": "glearn",
                "glearn": {k: v for k, v in out.items() if k not in ("game",)},
            },
        )
        buf = io.BytesIO()
        np.save(buf, np.asarray(res.q))
        atomic_write(args.out / "q.npy", buf.getvalue())
        out["out"] = str(args.out)
    human = (
        f"{game.name}: G-LEARN k={args.k} m={out['m']} ({args.parameterization}), "
        f"{info.table_size} Q-entries, {info.iterations} sweeps, {info.samples} samples, "
        f"{info.seconds:.2f} s\n"
        f"residual {info.residual:.3g}, certified error <= {info.error_bound:.3g}, "
        f"mean max_a Q = {res.value_mean:.4f}"
        + (f"\nwrote {args.out}" if args.out is not None else "")
    )
    emit(out, args.json, human)
    return 0
