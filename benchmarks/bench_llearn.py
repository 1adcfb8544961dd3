"""L-LEARN oracles: chained-MDP sizes and runtimes (``python benchmarks/bench_llearn.py``).

Rows: the tiny game (|S_l| = |S_g| = |A_l| = |A_g| = 2) at growing k for the chain oracles,
the warehouse (SPEC §7 G.1) for planning at small k and for the mean-field oracle up to
large k, and chain construction alone for the largest chains that fit. Targets: tiny
game at k = 2 (planning, ucfh) in seconds; mean-field on the warehouse at k = 50 < 1 s.
``--quick`` keeps only the target rows.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from altmarl.counts import CountSpace
from altmarl.llearn import best_response, default_T
from altmarl.llearn.chained import k_chained_mdp, mean_field_chained_mdp
from altmarl.policies import GlobalPolicy
from altmarl.scenarios import random_game, warehouse


def mode_policy(game, k: int) -> GlobalPolicy:
    """The dispatcher that steers to the sample's mode (a sensible fixed pi_g)."""
    mode = CountSpace(k, game.num_sl).all().argmax(axis=1) % game.num_ag
    return GlobalPolicy(np.tile(mode, (game.num_sg, 1)), k, game.num_sl, game.num_ag)


def run_oracle(label, game, k, oracle, **kw):
    pi_g = mode_policy(game, k)
    t0 = time.perf_counter()
    info = best_response(game, pi_g, k, oracle=oracle, **kw).info
    sec = time.perf_counter() - t0
    steps = {"ucfh": k + 1, "planning": k + 1}.get(oracle, 1)
    return {
        "game": label,
        "what": oracle,
        "k": k,
        "T": info.T,
        "H": info.T * steps,
        "states": info.num_states,
        "seconds": sec,
        "value": info.value,
        "episodes": info.episodes,
    }


def run_build(label, game, k, kind, T):
    pi_g = mode_policy(game, k)
    t0 = time.perf_counter()
    build = k_chained_mdp if kind == "k" else mean_field_chained_mdp
    ch = build(game, pi_g, k, T)
    sec = time.perf_counter() - t0
    return {
        "game": label,
        "what": f"build {kind}-chain",
        "k": k,
        "T": T,
        "H": ch.mdp.horizon,
        "states": ch.mdp.num_states,
        "seconds": sec,
        "value": float("nan"),
        "episodes": 0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the target rows")
    args = ap.parse_args()
    tiny = random_game(0)
    wh = warehouse()
    for oracle in ("planning", "ucfh", "mean-field"):  # warm-up: numba compilation
        best_response(tiny, mode_policy(tiny, 2), 2, oracle=oracle, T=2)
    rows = [  # each row is printed as soon as it is measured
        run_oracle("tiny", tiny, 2, "planning"),
        run_oracle("tiny", tiny, 2, "ucfh"),
        run_oracle("tiny", tiny, 2, "mean-field"),
        run_oracle("warehouse", wh, 50, "mean-field"),
    ]
    if not args.quick:
        T_tiny = default_T(tiny, None, None)
        rows += [
            run_oracle("tiny", tiny, 3, "ucfh"),
            run_oracle("tiny", tiny, 4, "planning"),
            run_oracle("tiny", tiny, 10, "planning"),
            run_build("tiny", tiny, 16, "k", T_tiny),
            run_build("tiny", tiny, 8, "mean-field", T_tiny),
            run_oracle("warehouse", wh, 2, "planning"),
            run_oracle("warehouse", wh, 10, "mean-field"),
            run_oracle("warehouse", wh, 100, "mean-field"),
        ]
    head = f"{'game':<10} {'what':<22} {'k':>5} {'T':>4} {'H':>6} {'states':>9} {'seconds':>9}"
    head += f" {'value':>10} {'episodes':>9}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['game']:<10} {r['what']:<22} {r['k']:>5} {r['T']:>4} {r['H']:>6} "
            f"{r['states']:>9} {r['seconds']:>9.3f} {r['value']:>10.4f} {r['episodes']:>9}"
        )


if __name__ == "__main__":
    main()
