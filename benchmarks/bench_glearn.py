"""G-LEARN cost against k (issues 3 and 14): warehouse, uniform local policy, mean-field,
m = 30, tol = 1e-6, from Q = 0.

    python benchmarks/bench_glearn.py [--k 5 10 20 30 40 50 100] [--stopping span|residual]

Targets (issue 14, a quiet 2-core machine): k = 30 (|C_k| = 46,376) in at most 1.0 s;
k = 50 (|C_k| = 316,251) in at most 4 s and under 1.5 GB peak; k = 100
(|C_k| = 4,598,126) in at most 180 s and under 8 GB peak. Each k runs in a fresh process
so that "peak MB" is that run's maximum resident set (interpreter and libraries
included), printed beside G-LEARN's own estimate of its arrays ("budget MB", what the
memory budget is checked against); "seconds" is the whole glearn call (sampling + value
iteration + greedy policy), after warm-up calls that load the numba kernels (compiled
once, cached on disk). "f32" counts the sweeps that gathered float32 values. The
machine may be shared: the load average at the start is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

TARGETS = {30: (1.0, None), 50: (4.0, 1500.0), 100: (180.0, 8000.0)}


def worker(k: int, stopping: str, anderson: int) -> None:
    from altmarl.glearn import empirical_adapted_bellman, glearn, value_iteration
    from altmarl.glearn.oracle import GLearnInfo, glearn_bytes
    from altmarl.policies import LocalPolicy
    from altmarl.scenarios import warehouse

    game = warehouse()
    pl = LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
    # warm-up: load the cached numba kernels (float64 and float32 sweeps)
    glearn(game, pl, 2, m=30)
    value_iteration(empirical_adapted_bellman(game, pl, 2, 30), tol=1.0, precision="mixed")
    res = glearn(game, pl, k, m=30, tol=1e-6, seed=0, stopping=stopping, anderson=anderson)
    info = res.info
    assert isinstance(info, GLearnInfo)
    size = res.q.shape[1]
    row = {
        "iterations": info.iterations,
        "float32_sweeps": info.extra["float32_sweeps"],
        "samples": info.samples,
        "seconds": info.seconds,
        "error_bound": info.error_bound,
        "size": size,
        "peak_mb": peak_resident_mb(),
        "budget_mb": glearn_bytes(size, 5, 5, 5, 30, anderson) / 1024**2,
    }
    print(json.dumps(row))


def peak_resident_mb() -> float:
    """This process's peak resident memory in MB.

    Linux's ``VmHWM`` (the high-water mark of this process's own memory map) where there is
    one: ``ru_maxrss`` survives ``fork`` and ``exec``, so a worker started by a parent that
    once held 2 GB (``speed_table.py`` after its continuous rows) would report the
    parent's peak instead of its own."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
        f"{'k':>4} {'|C_k|':>9} {'iterations':>10} {'f32':>4} {'samples':>12} {'seconds':>8} "
        f"{'peak MB':>8} {'budget MB':>9} {'error bound':>11}  target"
    )
    for k, r in rows:
        target = ""
        if k in TARGETS:
            t_s, t_mb = TARGETS[k]
            ok = r["seconds"] <= t_s and (t_mb is None or r["peak_mb"] < t_mb)
            mb = "" if t_mb is None else f", <{t_mb:g} MB"
            target = f"<={t_s:g} s{mb}: {'met' if ok else 'MISSED'}"
        print(
            f"{k:>4} {r['size']:>9,} {r['iterations']:>10} {r['float32_sweeps']:>4} "
            f"{r['samples']:>12,} {r['seconds']:>8.2f} {r['peak_mb']:>8.0f} "
            f"{r['budget_mb']:>9.0f} {r['error_bound']:>11.2e}  {target}"
        )


if __name__ == "__main__":
    main()
