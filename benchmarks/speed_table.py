"""Issue 14's speed table: every row measured on this machine, with its target beside it.

    python benchmarks/speed_table.py                      # every row but the two studies
    python benchmarks/speed_table.py --all                # and the three full studies (~40 min)
    python benchmarks/speed_table.py --rows glearn-30,glearn-50

Rows (``--rows``, comma-separated):

* ``continuous-run``: one continuous training run (30 alternations, horizon 100, n = 500)
  at each of ``--continuous-k`` (default 1, 10, 75); target <= 10 s at every k.
* ``continuous-study``: ``altmarl reproduce continuous`` (the full protocol: k = 1, 5, 10,
  25, 50, 75; 15 seeds; 50 evaluation rollouts), wall time; target <= 20 min.
* ``glearn-30``, ``glearn-50``, ``glearn-100``: G-LEARN on the warehouse (uniform robots,
  mean-field, m = 30, tol = 1e-6, from Q = 0), seconds of the call and the process's peak
  resident memory, each in a fresh process (``bench_glearn.py --worker``); targets
  <= 1.0 s; <= 4 s and < 1.5 GB; <= 180 s and < 8 GB.
* ``glearn-refuse``: k = 130 (|C_k| = 12,840,751) is over an 8 GiB budget (the target;
  the default budget is half of physical memory):
  G-LEARN must refuse it at once with a one-line ``MemoryBudgetError``.
* ``train-loop``: ALTERNATING-MARL's training part (the sum of ``oracle_seconds`` and
  ``update_seconds`` over the history rows) with the warehouse study's flags, at
  k = 1, 5, 10, 20, over ``--seeds`` seeds (min-max); target: no slower than the authors'
  training loop (0.4-0.6 / 0.5-0.7 / 0.3-0.6 / 2.2-3.2 s), i.e. at most the upper end.
* ``warehouse-study``: ``altmarl reproduce warehouse --no-exploit`` (k = 1..50, 15 seeds),
  wall time: the study as issue 14 measured it (31 min 44 s then); target <= 15 min.
* ``warehouse-study-exploit``: the same with its default exploit columns, which issue 12
  added later with its own budget (the study's wall time grows by at most 25% with them);
  target <= 15 min x 1.25 = 18 min 45 s.

The targets are for a quiet 2-core machine; the header prints this machine's cores and
load average, and a loaded machine inflates every time. ``--out`` keeps the studies'
directories (default: a temporary directory, removed afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS = (
    "continuous-run",
    "glearn-30",
    "glearn-50",
    "glearn-100",
    "glearn-refuse",
    "train-loop",
    "continuous-study",
    "warehouse-study",
    "warehouse-study-exploit",
)
STUDIES = ("continuous-study", "warehouse-study", "warehouse-study-exploit")
#: (seconds, peak MB) targets of the G-LEARN rows
GLEARN_TARGETS = {30: (1.0, None), 50: (4.0, 1500.0), 100: (180.0, 8000.0)}
#: the authors' training loop, seconds (the target is the upper end)
AUTHORS_TRAINING = {1: (0.4, 0.6), 5: (0.5, 0.7), 10: (0.3, 0.6), 20: (2.2, 3.2)}

Row = tuple[str, str, str, bool | None]  # what, measured, target, met (None: no verdict)


def glearn_row(k: int) -> Row:
    cmd = [sys.executable, str(HERE / "bench_glearn.py"), "--worker", str(k)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    t_s, t_mb = GLEARN_TARGETS[k]
    met = r["seconds"] <= t_s and (t_mb is None or r["peak_mb"] < t_mb)
    target = f"<= {t_s:g} s" + ("" if t_mb is None else f", < {t_mb / 1000:g} GB")
    what = f"G-LEARN k={k} (|C_k|={r['size']:,}, {r['iterations']} sweeps)"
    return what, f"{r['seconds']:.2f} s, {r['peak_mb']:.0f} MB", target, met


def refuse_row() -> Row:
    code = (
        "import time\n"
        "from altmarl.errors import MemoryBudgetError\n"
        "from altmarl.glearn import glearn\n"
        "from altmarl.policies import LocalPolicy\n"
        "from altmarl.scenarios import warehouse\n"
        "t0 = time.perf_counter()\n"
        "try:\n"
        "    glearn(warehouse(), LocalPolicy.uniform(5, 5, 3), 130)\n"
        "    print('NOT REFUSED')\n"
        "except MemoryBudgetError as e:\n"
        "    print(f'{time.perf_counter() - t0:.3f}', e)\n"
    )
    # the target's budget, not this machine's default (half its physical memory)
    env = {**os.environ, "ALTMARL_MEMORY_BUDGET_GB": "8"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    refused = not out.startswith("NOT")
    seconds, _, message = out.partition(" ")
    measured = f"refused in {seconds} s: {message[:60]}..." if refused else "not refused"
    return "G-LEARN k=130 (over the 8 GiB budget)", measured, "refused cleanly", refused


def train_loop_rows(seeds: int) -> list[Row]:
    from altmarl.alternating import AlternatingMARL
    from altmarl.experiments.warehouse import WarehouseStudy, job_config
    from altmarl.scenarios import warehouse

    game = warehouse()
    rows = []
    for k, (lo, hi) in AUTHORS_TRAINING.items():
        seconds = []
        for job in WarehouseStudy(k_values=(k,), seeds=seeds).jobs():
            res = AlternatingMARL(game, job_config(job.params)).run(progress=False)
            seconds.append(sum(r.oracle_seconds + r.update_seconds for r in res.history))
        rows.append(
            (
                f"training part, study flags, k={k} ({seeds} seeds)",
                f"{min(seconds):.2f}-{max(seconds):.2f} s",
                f"<= {hi:g} s (authors {lo:g}-{hi:g} s)",
                max(seconds) <= hi,
            )
        )
    return rows


def continuous_rows(k_values: list[int]) -> list[Row]:
    from altmarl.continuous.training import ContinuousConfig, train_continuous
    from bench_continuous import warm_up

    warm_up()
    rows = []
    for k in k_values:
        res = train_continuous(ContinuousConfig(k=k))
        rows.append(
            (
                f"continuous run k={k} (30 alternations, H=100, n=500)",
                f"{res.seconds:.1f} s",
                "<= 10 s",
                res.seconds <= 10.0,
            )
        )
    return rows


def study_row(what: str, argv: list[str], out: Path, target_min: float) -> Row:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "altmarl", *argv, "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        return what, f"failed (exit {done.returncode})", f"<= {target_min:g} min", False
    measured = f"{wall // 60:.0f} min {wall % 60:.0f} s"
    return what, measured, f"<= {target_min:g} min", wall <= 60 * target_min


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} cores, load average {load:.2f} at the start"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", default=None, help=f"comma-separated, from {', '.join(ROWS)}")
    ap.add_argument("--all", action="store_true", help="every row, the two studies included")
    ap.add_argument("--continuous-k", default="1,10,75", help="k values of continuous-run")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per k of train-loop")
    ap.add_argument("--out", type=Path, default=None, help="keep the studies here")
    args = ap.parse_args()
    if args.rows is not None:
        chosen = [r.strip() for r in args.rows.split(",") if r.strip()]
        unknown = sorted(set(chosen) - set(ROWS))
        if unknown:
            ap.error(f"--rows: unknown {', '.join(unknown)}; choose from {', '.join(ROWS)}")
    else:
        chosen = [r for r in ROWS if args.all or r not in STUDIES]
    header = machine()
    out_root = args.out or Path(tempfile.mkdtemp(prefix="altmarl-speed-"))
    plan: dict[str, Callable[[], list[Row]]] = {
        "continuous-run": lambda: continuous_rows([int(x) for x in args.continuous_k.split(",")]),
        "glearn-30": lambda: [glearn_row(30)],
        "glearn-50": lambda: [glearn_row(50)],
        "glearn-100": lambda: [glearn_row(100)],
        "glearn-refuse": lambda: [refuse_row()],
        "train-loop": lambda: train_loop_rows(args.seeds),
        "continuous-study": lambda: [
            study_row(
                "continuous study (full protocol, 2 workers)",
                ["reproduce", "continuous", "--workers", "2"],
                out_root / "continuous",
                20,
            )
        ],
        "warehouse-study": lambda: [
            study_row(
                "warehouse study, no exploit (k=1..50, 15 seeds, 2 workers)",
                ["reproduce", "warehouse", "--workers", "2", "--no-exploit"],
                out_root / "warehouse-no-exploit",
                15,
            )
        ],
        "warehouse-study-exploit": lambda: [
            study_row(
                "warehouse study with exploit (default; issue 12: +25% at most)",
                ["reproduce", "warehouse", "--workers", "2"],
                out_root / "warehouse",
                15 * 1.25,
            )
        ],
    }
    rows: list[Row] = []
    for name in chosen:
        new = plan[name]()
        for what, measured, _, _ in new:  # progress, while the slow rows run
            print(f"  {what}: {measured}", file=sys.stderr, flush=True)
        rows += new
    print(f"issue 14 speed table; {header}")
    width = max(len(r[0]) for r in rows)
    mwidth = max(len(r[1]) for r in rows)
    print(f"{'row':<{width}}  {'measured':<{mwidth}}  {'target':<30} verdict")
    for what, measured, target, met in rows:
        verdict = "" if met is None else ("met" if met else "MISSED")
        print(f"{what:<{width}}  {measured:<{mwidth}}  {target:<30} {verdict}")
    if args.out is None:
        shutil.rmtree(out_root, ignore_errors=True)


if __name__ == "__main__":
    main()
