"""Continuous extension (SPEC §7 G.2): training wall time against k, and study quality.

    python benchmarks/bench_continuous.py [--k-values 1,75] [--threads 1] [--local-algo trpo]
    python benchmarks/bench_continuous.py --study DIR        # quality table of a finished study
    python benchmarks/bench_continuous.py --quick-study DIR  # time 'reproduce continuous --quick'

Targets (2 cores, no GPU):
* one full training run (30 alternations, horizon 100, n = 500) in under 60 s at any k;
* ``altmarl reproduce continuous --quick`` in about two minutes;
* full protocol (k = 1,5,10,25,50,75, 15 seeds, 50 rollouts): at k = 75 the discounted
  return >= 3.5 x the uniform-random baseline's, mode accuracy >= 0.80.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def bench_training(k_values: list[int], threads: int, algo: str) -> None:
    import torch

    from altmarl.continuous.local_learn import LocalLearnConfig
    from altmarl.continuous.training import ContinuousConfig, train_continuous

    torch.set_num_threads(threads)
    print(f"continuous warehouse, n=500, horizon 100, 30 alternations, {algo}, {threads} thread(s)")
    print(
        f"{'k':>4} {'train s':>8} {'target':>7} {'value':>8} {'uniform':>8} {'ratio':>6} "
        f"{'mode acc':>8} {'acc L/G':>7}"
    )
    for k in k_values:
        cfg = ContinuousConfig(k=k, local=LocalLearnConfig(algo=algo))
        res = train_continuous(cfg)
        s = res.summary()
        ok = "ok" if res.seconds < 60 else "MISS"
        print(
            f"{k:>4} {res.seconds:>8.1f} {ok:>7} {res.value:>8.1f} {res.baseline_value:>8.1f} "
            f"{res.value / res.baseline_value:>6.2f} {res.mode_accuracy:>8.3f} "
            f"{s['accepted_local']:>3}/{s['accepted_global']:<3}"
        )


def study_table(out: Path) -> None:
    from altmarl.experiments.results import load_ok_rows, per_k

    rows = load_ok_rows(out)
    if not rows:
        sys.exit(f"{out}/results.csv has no finished jobs")
    value, base = per_k(rows, "value"), per_k(rows, "baseline_value")
    acc, sec = per_k(rows, "mode_accuracy"), per_k(rows, "train_seconds")
    print(f"study {out}")
    print(
        f"{'k':>4} {'seeds':>5} {'value':>14} {'uniform':>8} {'ratio':>6} {'mode acc':>14} "
        f"{'train s':>8}"
    )
    for k in value:
        v, b, a = value[k], base[k], acc[k]
        print(
            f"{k:>4} {v.size:>5} {v.mean():>7.1f} +- {v.std(ddof=1) if v.size > 1 else 0:>4.1f} "
            f"{b.mean():>8.1f} {v.mean() / b.mean():>6.2f} "
            f"{a.mean():>6.3f} +- {a.std(ddof=1) if a.size > 1 else 0:>5.3f} "
            f"{np.mean(sec[k]):>8.1f}"
        )
    k_max = max(value)
    ratio = value[k_max].mean() / base[k_max].mean()
    print(
        f"k = {k_max}: return ratio {ratio:.2f} (target >= 3.5: {'ok' if ratio >= 3.5 else 'MISS'})"
        f", mode accuracy {acc[k_max].mean():.3f} "
        f"(target >= 0.80: {'ok' if acc[k_max].mean() >= 0.8 else 'MISS'})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--k-values", default="1,75")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--local-algo", default="trpo", choices=("trpo", "ppo", "a2c"))
    ap.add_argument("--study", type=Path, default=None, help="print a finished study's table")
    ap.add_argument("--quick-study", type=Path, default=None, help="time --quick into DIR")
    args = ap.parse_args()
    if args.study is not None:
        study_table(args.study)
        return
    if args.quick_study is not None:
        t0 = time.perf_counter()
        cmd = ["altmarl", "reproduce", "continuous", "--quick", "--out", str(args.quick_study)]
        subprocess.run(cmd, check=True)
        print(f"reproduce continuous --quick: {time.perf_counter() - t0:.1f} s (target ~120 s)")
        study_table(args.quick_study)
        return
    bench_training([int(x) for x in args.k_values.split(",")], args.threads, args.local_algo)


if __name__ == "__main__":
    main()
