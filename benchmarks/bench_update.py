"""The tabular training loop at small k (UPDATE's cost), and ``altmarl exploit`` at n = 1000.

    python benchmarks/bench_update.py [--k-values 1,5,10,20] [--seeds 3] [--exploit-k 10]

Training part = the sum of ``oracle_seconds`` and ``update_seconds`` over ``history.csv``'s
rows, with the warehouse study's flags (``--global-candidates safeguarded
--reuse-global-response --tol 1e-2 --eps-tol 0.25``, n = 1000, m = 30). One warm-up run
first loads the compiled kernels, as a study worker has them loaded after its first job.
Targets (issues #12 and #14, 2 cores, quiet machine): training part no slower than the
authors' loop (0.4-0.6 / 0.5-0.7 / 0.3-0.6 / 2.2-3.2 s at k = 1 / 5 / 10 / 20); exploit of a
warehouse pair at n = 1000, k = 10 in under 60 s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from altmarl.alternating import AlternatingConfig, AlternatingMARL
from altmarl.exploit import ExploitConfig, exploit
from altmarl.scenarios import warehouse


def study_config(k: int, seed: int, alternations: int = 10) -> AlternatingConfig:
    return AlternatingConfig(
        k=k,
        n=1000,
        seed=seed,
        alternations=alternations,
        global_candidates="safeguarded",
        reuse_global_response=True,
        tol=1e-2,
        eps_tol=0.25,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--k-values", default="1,5,10,20")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--exploit-k", type=int, default=10, help="0: skip the exploit timing")
    args = ap.parse_args()
    game = warehouse()
    AlternatingMARL(game, study_config(2, 0, alternations=1)).run(progress=False)  # warm-up
    print("training part (oracle + UPDATE seconds of history.csv), study flags, n = 1000")
    print(
        f"{'k':>4} {'train part s (min-max)':>24} {'UPDATE s':>14} {'proposals':>9} "
        f"{'rollouts/pair':>13} {'inconclusive':>12} {'value':>8}"
    )
    last = None
    for k in (int(x) for x in args.k_values.split(",")):
        parts, updates, props, rolls, inc, vals = [], [], [], [], [], []
        for seed in range(args.seeds):
            res = AlternatingMARL(game, study_config(k, seed)).run(progress=False)
            parts.append(sum(r.oracle_seconds + r.update_seconds for r in res.history))
            updates.append(sum(r.update_seconds for r in res.history))
            props.append(len(res.history))
            rolls.append(sum(r.rollouts for r in res.history))
            inc.append(res.inconclusive)
            vals.append(res.value)
            if k == args.exploit_k and seed == 0:
                last = res
        print(
            f"{k:>4} {min(parts):>11.2f} - {max(parts):<10.2f} "
            f"{np.mean(updates):>14.2f} {np.mean(props):>9.1f} {np.mean(rolls):>13.0f} "
            f"{sum(inc):>12} {np.mean(vals):>8.2f}"
        )
    if args.exploit_k:
        if last is None:
            last = AlternatingMARL(game, study_config(args.exploit_k, 0)).run(progress=False)
        t0 = time.perf_counter()
        rep = exploit(
            game, last.global_policy, last.local_policy, ExploitConfig(n=1000, k=args.exploit_k)
        )
        print(
            f"\nexploit, n = 1000, k = {args.exploit_k}: {time.perf_counter() - t0:.1f} s "
            f"(global gain {rep.global_.gain:.3f} by {rep.global_.name}, "
            f"local gain {rep.local.gain:.3f} by {rep.local.name})"
        )


if __name__ == "__main__":
    main()
