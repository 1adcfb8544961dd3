"""The continuous study's L step by two learners side by side: the library's batched TRPO
(``--local-algo trpo``) and sb3-contrib's TRPO through a VecEnv of the robots (``sb3-trpo``).

    python benchmarks/bench_local_learners.py [--k-values 1,10,75] [--seeds 5]
        [--alternations 30] [--n 500] [--horizon 100] [--out runs/learners]

Every (k, seed) trains ALTERNATING-MARL on the continuous warehouse (n = 500, horizon 100)
with each learner from the same seed (same initial networks, same evaluation episodes), then
evaluates the pair on 50 episodes shared with the uniform-random baseline. One row per run
goes to ``OUT/runs.csv`` (resumable: finished runs are skipped); the table printed at the end
gives, per (k, learner), the mean +- std over seeds of the discounted return, the mode
accuracy, and the wall and CPU (process) seconds per training run, then the paired difference
of the returns (same seed, same initial networks and evaluation episodes) with its standard
error. Wall seconds on a shared machine are inflated by the other processes' load; CPU
seconds are not.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

LEARNERS = ("trpo", "sb3-trpo")
FIELDS = ("k", "seed", "algo", "value", "mode_accuracy", "baseline_value", "wall_s", "cpu_s")


def run_one(k: int, seed: int, algo: str, args: argparse.Namespace) -> dict[str, float]:
    from altmarl.continuous.local_learn import LocalLearnConfig
    from altmarl.continuous.training import ContinuousConfig, train_continuous

    cfg = ContinuousConfig(
        k=k,
        seed=seed,
        alternations=args.alternations,
        n=args.n,
        horizon=args.horizon,
        local=LocalLearnConfig(algo=algo),
    )
    start = time.process_time()
    last = [start]  # CPU time at the last proposal: training ends there (before evaluation)
    res = train_continuous(cfg, progress=lambda row: last.__setitem__(0, time.process_time()))
    return {
        "value": res.value,
        "mode_accuracy": res.mode_accuracy,
        "baseline_value": res.baseline_value,
        "wall_s": res.seconds,
        "cpu_s": last[0] - start,
    }


def table(rows: list[dict[str, str]]) -> str:
    lines = [
        f"{'k':>4} {'learner':>9} {'seeds':>5} {'return':>15} {'uniform':>8} "
        f"{'mode acc':>15} {'wall s/run':>10} {'CPU s/run':>9}"
    ]
    for k in sorted({int(r["k"]) for r in rows}):
        for algo in LEARNERS:
            sel = [r for r in rows if int(r["k"]) == k and r["algo"] == algo]
            if not sel:
                continue

            def col(name: str, rows=sel) -> np.ndarray:
                return np.array([float(r[name]) for r in rows])

            v, a = col("value"), col("mode_accuracy")
            lines.append(
                f"{k:>4} {algo:>9} {len(sel):>5} {v.mean():>7.1f} +- {v.std():<5.1f}"
                f"{col('baseline_value').mean():>8.1f} {a.mean():>7.3f} +- {a.std():<5.3f}"
                f"{col('wall_s').mean():>10.1f} {col('cpu_s').mean():>9.1f}"
            )
        paired = _paired_difference(rows, k)
        if paired is not None:
            d, se, m = paired
            lines.append(
                f"{k:>4} {'sb3 - trpo':>10} paired over {m} seeds: {d:+.1f} +- {se:.1f} (1 se)"
            )
    return "\n".join(lines)


def _paired_difference(rows: list[dict[str, str]], k: int) -> tuple[float, float, int] | None:
    """Mean and standard error of ``value(sb3-trpo) - value(trpo)`` over the seeds both ran."""
    by = {(r["algo"], int(r["seed"])): float(r["value"]) for r in rows if int(r["k"]) == k}
    seeds = sorted(s for a, s in by if a == "trpo" and ("sb3-trpo", s) in by)
    if len(seeds) < 2:
        return None
    d = np.array([by["sb3-trpo", s] - by["trpo", s] for s in seeds])
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))), len(d)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--k-values", default="1,10,75")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0, help="seeds first-seed..seeds-1")
    p.add_argument("--alternations", type=int, default=30)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--horizon", type=int, default=100)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--out", type=Path, default=Path("runs/learners"))
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "runs.csv"
    done = set()
    if path.is_file():
        with path.open() as f:
            done = {(int(r["k"]), int(r["seed"]), r["algo"]) for r in csv.DictReader(f)}
    else:
        with path.open("w", newline="") as f:
            csv.DictWriter(f, FIELDS).writeheader()
    ks = [int(k) for k in args.k_values.split(",")]
    for seed in range(args.first_seed, args.seeds):
        for k in ks:
            for algo in LEARNERS:
                if (k, seed, algo) in done:
                    continue
                row = {
                    "k": k,
                    "seed": seed,
                    "algo": algo,
                    **run_one(k, seed, algo, args),
                }
                with path.open("a", newline="") as f:
                    csv.DictWriter(f, FIELDS).writerow(row)
                print(f"k={k} seed={seed} {algo}: value {row['value']:.1f}", flush=True)
    with path.open() as f:
        rows = [r for r in csv.DictReader(f) if int(r["k"]) in ks and int(r["seed"]) < args.seeds]
    print(
        f"\ncontinuous warehouse, n = {args.n}, horizon {args.horizon}, "
        f"{args.alternations} alternations"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
