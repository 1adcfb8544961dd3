"""Throughput of the two online-execution simulators against n (issue: core).

    python benchmarks/bench_simulate.py [--quick]

Targets (2 cores): CountSimulator, 50 rollouts x horizon 100 at n = 10^9 in < 1 s;
AgentSimulator >= 20 M agent-steps/s at n = 1000 and >= 40 M at n = 10^6.
The first call of each kernel (numba compilation, cached on disk) is excluded.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from altmarl.counts import CountSpace
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.scenarios import warehouse
from altmarl.simulate import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer n values and repetitions")
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    game = warehouse()
    k = args.k
    pg = GlobalPolicy(np.tile(CountSpace(k, 5).all().argmax(1), (5, 1)), k, 5, 5)
    pl = LocalPolicy(np.random.default_rng(0).dirichlet(np.ones(3), size=(5, 5)))
    R, H = 50, 100
    rows = []
    plan = [("counts", n) for n in (10**3, 10**6, 10**9)]
    plan += [
        ("agents", n)
        for n in ((10**3, 10**5, 10**6) if args.quick else (10**3, 10**4, 10**5, 10**6, 10**7))
    ]
    for sim, n in plan:
        horizon = H if sim == "counts" or n <= 10**5 else max(5, H * 10**5 // n)
        evaluate(game, pg, pl, n=n, k=k, rollouts=2, horizon=2, seed=0, simulator=sim)  # warm-up
        best = np.inf
        for rep in range(1 if args.quick else 3):
            t0 = time.perf_counter()
            evaluate(game, pg, pl, n=n, k=k, rollouts=R, horizon=horizon, seed=rep, simulator=sim)
            best = min(best, time.perf_counter() - t0)
        steps = R * horizon
        rows.append((sim, n, R, horizon, best, steps * n / best / 1e6, best / steps * 1e6))
    print(f"warehouse, k={k}, best of {1 if args.quick else 3}")
    print(
        f"{'simulator':>9} {'n':>12} {'R':>4} {'H':>4} {'seconds':>9} "
        f"{'M agent-steps/s':>16} {'us/step':>9}"
    )
    for sim, n, r, h, sec, thr, per in rows:
        print(f"{sim:>9} {n:>12,} {r:>4} {h:>4} {sec:>9.3f} {thr:>16,.1f} {per:>9.1f}")


if __name__ == "__main__":
    main()
