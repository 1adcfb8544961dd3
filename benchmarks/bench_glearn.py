"""G-LEARN cost against k (issue 3): warehouse, uniform local policy, mean-field, m = 30,
tol = 1e-6, from Q = 0.

    python benchmarks/bench_glearn.py [--k 5 10 20 30 40 50] [--stopping span|certified|residual]

Targets (2 cores): k = 30 (|C_k| = 46,376) under 5 s and 1 GB peak; k = 50
(|C_k| = 316,251) under 45 s and 4 GB peak. Each k runs in a fresh process so that
"peak MB" is that run's maximum resident set (interpreter and libraries included);
"seconds" is the whole glearn call (sampling + value iteration + greedy policy),
after a tiny warm-up call that loads the numba kernels (compiled once, cached on disk).
The machine is shared: the load average at the start is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

TARGETS = {30: (5.0, 1024.0), 50: (45.0, 4096.0)}


def worker(k: int, stopping: str, anderson: int) -> None:
    from altmarl.glearn import glearn
    from altmarl.policies import LocalPolicy
    from altmarl.scenarios import warehouse

    game = warehouse()
    pl = LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
    glearn(game, pl, 2, m=30)  # warm-up: load the cached numba kernels
    res = glearn(game, pl, k, m=30, tol=1e-6, seed=0, stopping=stopping, anderson=anderson)
    row = {
        "iterations": res.info.iterations,
        "samples": res.info.samples,
        "seconds": res.info.seconds,
        "error_bound": res.info.error_bound,
        "size": res.q.shape[1],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(row))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--k", type=int, nargs="+", default=[5, 10, 20, 30, 40, 50])
    ap.add_argument("--stopping", choices=("span", "certified", "residual"), default="span")
    ap.add_argument("--anderson", type=int, default=5, help="Anderson depth (span rule)")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        worker(args.worker, args.stopping, args.anderson)
        return
    load = os.getloadavg()[0]
    rows = []
    for k in args.k:
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            str(k),
            "--stopping",
            args.stopping,
            "--anderson",
            str(args.anderson),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rows.append((k, json.loads(out.strip().splitlines()[-1])))
    print(
        f"G-LEARN, warehouse, uniform pi_l, mean-field, m=30, tol=1e-6, Q0=0, "
        f"stopping={args.stopping}, anderson={args.anderson}, load average {load:.2f}"
    )
    print(
        f"{'k':>4} {'|C_k|':>9} {'iterations':>10} {'samples':>12} {'seconds':>8} "
        f"{'peak MB':>8} {'error bound':>11}  target"
    )
    for k, r in rows:
        target = ""
        if k in TARGETS:
            t_s, t_mb = TARGETS[k]
            ok = r["seconds"] <= t_s and r["peak_mb"] <= t_mb
            target = f"<{t_s:g} s, <{t_mb:g} MB: {'met' if ok else 'MISSED'}"
        print(
            f"{k:>4} {r['size']:>9,} {r['iterations']:>10} {r['samples']:>12,} "
            f"{r['seconds']:>8.2f} {r['peak_mb']:>8.0f} {r['error_bound']:>11.2e}  {target}"
        )


if __name__ == "__main__":
    main()
