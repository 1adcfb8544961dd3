"""Continuous extension (SPEC §7 G.2): training time against k, and the study's quality gates.

    python benchmarks/bench_continuous.py                      # one training run per k
    python benchmarks/bench_continuous.py --k-values 10 --profile   # where one run's time goes
    python benchmarks/bench_continuous.py --run-study DIR      # time the full protocol, then gates
    python benchmarks/bench_continuous.py --study DIR          # gates of a finished study

Targets (issue #14, 2 cores, no GPU; wall times assume a quiet machine):
* one training run (30 alternations, horizon 100, n = 500; the G step's regression on 1 torch
  thread, rollouts, TRPO and the critic on every core) <= 10 s at every k;
* the full study (k = 1, 5, 10, 25, 50, 75; 15 seeds; 50 rollouts; 2 workers) <= 20 min;
* quality at k = 75: return >= 3.5 x uniform (dispatcher and robots), mode accuracy >= 0.80,
  return rising with k (issue #14); the margin over the best constant dispatcher with the
  same robots positive with its 95% interval above 0 in >= 12 of 15 runs, growing from
  k = 1 to k = 75 (issue #17); under ``--protocol paper``, the accuracy at the start rising
  with k and >= 0.81 at k = 75.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TRAIN_TARGET_S = 10.0
STUDY_TARGET_S = 20 * 60.0


def warm_up() -> None:
    """A one-alternation run, untimed: a process's first torch optimiser imports
    ``torch._dynamo`` (about 1 s, once per process), which is not a run's work; as
    ``bench_glearn.py`` loads numba's kernels before it times G-LEARN."""
    from altmarl.continuous.training import ContinuousConfig, train_continuous

    train_continuous(
        ContinuousConfig(k=1, alternations=1, eval_episodes=1, final_rollouts=1, select_episodes=1)
    )


def bench_training(k_values: list[int], algo: str, profile: bool) -> None:
    import torch

    from altmarl.continuous.local_learn import LocalLearnConfig
    from altmarl.continuous.training import ContinuousConfig, train_continuous

    warm_up()
    print(
        f"continuous warehouse, n=500, horizon 100, 30 alternations, {algo}; the G step's "
        f"regression on 1 torch thread, rollouts, TRPO and critic on {torch.get_num_threads()} "
        "(the same bits on any number)"
    )
    print(
        f"{'k':>4} {'train s':>8} {'cpu s':>6} {'target':>7} {'ok':>4} {'value':>7} "
        f"{'constant':>8} {'margin':>7} {'uniform':>7} {'acc L/G':>7}"
    )
    for k in k_values:
        cfg = ContinuousConfig(k=k, local=LocalLearnConfig(algo=algo))
        prof = cProfile.Profile() if profile else None
        if prof is not None:
            prof.enable()
        res = train_continuous(cfg)
        if prof is not None:
            prof.disable()
        s = res.summary()
        ok = "ok" if res.seconds <= TRAIN_TARGET_S else "MISS"
        print(
            f"{k:>4} {res.seconds:>8.1f} {res.cpu_seconds:>6.1f} {TRAIN_TARGET_S:>7.0f} {ok:>4} "
            f"{s['value']:>7.1f} {s['best_constant_value']:>8.1f} {s['margin']:>+7.1f} "
            f"{s['baseline_value']:>7.1f} {s['accepted_local']:>3}/{s['accepted_global']:<3}"
        )
        if prof is not None:
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


def _interval(values: np.ndarray) -> tuple[float, float]:
    from scipy import stats

    half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / values.size**0.5
    return float(values.mean() - half), float(values.mean() + half)


def study_table(out: Path) -> None:
    from altmarl.experiments.results import load_ok_rows, per_k

    rows = load_ok_rows(out)
    if not rows:
        sys.exit(f"{out}/results.csv has no finished jobs")
    protocol = json.loads((out / "study.json").read_text()).get("protocol", "ours")
    col = {name: per_k(rows, name) for name in rows[0] if name not in ("status", "error")}
    print(f"study {out} (protocol {protocol})")
    print(
        f"{'k':>4} {'runs':>4} {'return':>13} {'uniform':>7} {'ratio':>5} {'mode acc':>8} "
        f"{'start acc':>9} {'margin':>7} {'95% interval':>16} {'above':>5} {'sure':>4} "
        f"{'train s':>7} {'cpu s':>6}"
    )
    for k in col["value"]:
        v, m = col["value"][k], col["margin"][k]
        lo, hi = _interval(m) if m.size > 1 else (float("nan"), float("nan"))
        print(
            f"{k:>4} {v.size:>4} {v.mean():>6.1f} +- {v.std(ddof=1) if v.size > 1 else 0:>4.1f} "
            f"{col['baseline_value'][k].mean():>7.1f} "
            f"{v.mean() / col['baseline_value'][k].mean():>5.2f} "
            f"{col['mode_accuracy'][k].mean():>8.3f} "
            f"{col['initial_mode_accuracy'][k].mean():>9.3f} {m.mean():>+7.1f} "
            f"[{lo:>+6.1f}, {hi:>+6.1f}] {int((m > 0).sum()):>5} "
            f"{int((col['margin_low'][k] > 0).sum()):>4} "
            f"{col['train_seconds'][k].mean():>7.1f} {col['train_cpu_seconds'][k].mean():>6.1f}"
        )
    _gates(out, col, protocol)


def _gates(out: Path, col: dict[str, dict[int, np.ndarray]], protocol: str) -> None:
    ks = sorted(col["value"])
    k_max, k_min = ks[-1], ks[0]
    means = [col["value"][k].mean() for k in ks]
    ratio = col["value"][k_max].mean() / col["baseline_value"][k_max].mean()
    acc = col["mode_accuracy"][k_max].mean()
    start = [col["initial_mode_accuracy"][k].mean() for k in ks]
    sure = int((col["margin_low"][k_max] > 0).sum())
    runs = col["margin"][k_max].size

    def line(name: str, value: str, target: str, ok: bool) -> None:
        print(f"  {name:<52} {value:>14}  target {target:<12} {'ok' if ok else 'MISS'}")

    print("gates:")
    line(f"k = {k_max}: return / uniform random", f"{ratio:.2f}", ">= 3.5", ratio >= 3.5)
    line(f"k = {k_max}: mode accuracy (evaluation episodes)", f"{acc:.3f}", ">= 0.80", acc >= 0.8)
    rising = means[-1] > means[0]
    line(f"return k = {k_min} -> {k_max}", f"{means[0]:.1f} -> {means[-1]:.1f}", "rising", rising)
    line(
        f"k = {k_max}: runs with the margin's 95% interval above 0",
        f"{sure}/{runs}",
        ">= 12/15",
        sure >= 12 * runs / 15,
    )
    m_lo, m_hi = col["margin"][k_min].mean(), col["margin"][k_max].mean()
    line(f"margin k = {k_min} -> {k_max}", f"{m_lo:+.1f} -> {m_hi:+.1f}", "growing", m_hi > m_lo)
    if protocol == "paper":
        line(
            f"start accuracy k = {k_min} -> {k_max}",
            f"{start[0]:.3f} -> {start[-1]:.3f}",
            "rising",
            start[-1] > start[0],
        )
        line(f"k = {k_max}: start accuracy", f"{start[-1]:.3f}", ">= 0.81", start[-1] >= 0.81)
        if "classifier_start_accuracy" in col:
            # the same metric for the mode classifier each run started from (the authors'
            # dispatcher), like for like with the paper's column
            c = [float(np.nanmean(col["classifier_start_accuracy"][k])) for k in ks]
            line(
                f"mode classifier: start accuracy k = {k_min} -> {k_max}",
                f"{c[0]:.3f} -> {c[-1]:.3f}",
                "rising",
                c[-1] > c[0],
            )
            line(
                f"k = {k_max}: mode classifier's start accuracy",
                f"{c[-1]:.3f}",
                ">= 0.81",
                c[-1] >= 0.81,
            )
    timing = out / "bench_wall.json"
    if timing.is_file():
        t = json.loads(timing.read_text())
        ok = t["wall_seconds"] <= STUDY_TARGET_S
        line(
            f"full study wall ({t['workers']} workers; cpu {t['cpu_seconds'] / 60:.1f} min)",
            f"{t['wall_seconds'] / 60:.1f} min",
            "<= 20 min",
            ok,
        )


def run_study(out: Path, protocol: str, workers: int) -> None:
    import resource

    cmd = ["altmarl", "reproduce", "continuous", "--out", str(out), "--workers", str(workers)]
    cmd += ["--protocol", protocol]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    record = {"wall_seconds": wall, "cpu_seconds": usage.ru_utime + usage.ru_stime}
    (out / "bench_wall.json").write_text(json.dumps({**record, "workers": workers}, indent=2))
    study_table(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--k-values", default="1,5,10,25,50,75")
    ap.add_argument("--local-algo", default="trpo", choices=("trpo", "ppo", "a2c"))
    ap.add_argument("--profile", action="store_true", help="cProfile each run (top 25 lines)")
    ap.add_argument("--study", type=Path, default=None, help="gates of a finished study")
    ap.add_argument("--run-study", type=Path, default=None, help="run and time the full study")
    ap.add_argument("--protocol", default="ours", choices=("ours", "paper"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if args.study is not None:
        study_table(args.study)
    elif args.run_study is not None:
        run_study(args.run_study, args.protocol, args.workers)
    else:
        bench_training([int(x) for x in args.k_values.split(",")], args.local_algo, args.profile)


if __name__ == "__main__":
    main()
