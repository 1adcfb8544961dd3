"""Wall time of ``altmarl train`` (ALTERNATING-MARL) on the warehouse against k.

    python benchmarks/bench_train.py [--k-values 1,5,10,20] [--n 1000]

Target (2 cores): k = 10, n = 1000 with defaults in under 60 s, and a value at least the
best constant dispatcher's with the same local policy.
"""

from __future__ import annotations

import argparse
import time

from altmarl.alternating import AlternatingConfig, AlternatingMARL, final_seed
from altmarl.baselines import dispatcher_baselines
from altmarl.scenarios import warehouse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--k-values", default="1,5,10,20")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--order", default="local-global", choices=("local-global", "global-local"))
    args = ap.parse_args()
    game = warehouse()
    print(f"warehouse, n={args.n}, order={args.order}, defaults otherwise")
    print(
        f"{'k':>4} {'seconds':>8} {'proposals':>9} {'accepted':>8} {'value':>9} "
        f"{'best const':>10} {'uniform':>8}"
    )
    for k in (int(x) for x in args.k_values.split(",")):
        cfg = AlternatingConfig(k=k, n=args.n, order=tuple(args.order.split("-")))
        t0 = time.perf_counter()
        res = AlternatingMARL(game, cfg).run(progress=False)
        seconds = time.perf_counter() - t0
        base = dispatcher_baselines(game, res.local_policy, n=args.n, k=k, seed=final_seed(cfg))
        print(
            f"{k:>4} {seconds:>8.2f} {len(res.history):>9} {res.accepted:>8} "
            f"{res.value:>9.3f} {base.best_constant:>10.3f} {base.uniform:>8.3f}"
        )


if __name__ == "__main__":
    main()
