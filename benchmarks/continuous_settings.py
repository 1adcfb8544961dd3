"""The continuous study's k = 75 row under other training settings (issue #17's evidence).

    python benchmarks/continuous_settings.py --set '{"dispatcher_z": 1.0}'
    python benchmarks/continuous_settings.py --set '{"global_": {"states": 96}}' --seeds 15

Trains ``--seeds`` runs (seeds ``--first-seed``, +1, ...; default 0) at ``--k`` with
``ContinuousConfig`` defaults overridden by ``--set`` (JSON; ``global_`` holds
``ReturnResponseConfig`` fields), on ``--workers`` processes, and prints how many runs beat
their best constant dispatcher with their own 95% interval above 0 ("sure"), how many are
above it, the mean margin over seeds and the mean training seconds, then each run's margin.
Same seeds, same numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import Any

#: ``--quick``: sizes of a smoke test, over whatever ``--set`` says
QUICK = {
    "n": 60,
    "horizon": 15,
    "alternations": 1,
    "eval_episodes": 2,
    "final_rollouts": 4,
    "select_episodes": 2,
}


def job(args: tuple[int, int, dict[str, Any], int]) -> tuple[float, float, float]:
    seed, k, settings, rollout_threads = args
    from altmarl.continuous.global_response import ReturnResponseConfig
    from altmarl.continuous.training import ContinuousConfig, train_continuous

    settings = dict(settings)
    response = settings.pop("global_", None)
    config = ContinuousConfig(k=k, seed=seed, **settings)
    if response:
        config = replace(config, global_=ReturnResponseConfig(**response))
    result = train_continuous(config, threads_for_rollouts=rollout_threads)
    return result.evaluation.margin, result.evaluation.margin_interval[0], result.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--set", default="{}", help="JSON overrides of ContinuousConfig")
    ap.add_argument("--k", type=int, default=75)
    ap.add_argument("--seeds", type=int, default=15)
    ap.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds FIRST .. FIRST+SEEDS-1 (fresh seeds confirm a setting chosen on 0-14)",
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="2 tiny runs at k = 5 (a smoke test)")
    args = ap.parse_args()
    if args.first_seed < 0 or args.seeds < 1:
        ap.error("--first-seed must be >= 0 and --seeds >= 1")
    settings = json.loads(args.set)
    if args.quick:
        settings = {**settings, **QUICK}
        args.k, args.seeds = 5, 2
    # each worker's rollouts get its share of the cores (the same bits on any number)
    share = max(1, (os.cpu_count() or 1) // args.workers)
    jobs = [
        (seed, args.k, settings, share)
        for seed in range(args.first_seed, args.first_seed + args.seeds)
    ]
    if args.workers == 1:
        rows = [job(j) for j in jobs]
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            rows = list(pool.map(job, jobs))
    margins = [m for m, _, _ in rows]
    sure = sum(low > 0 for _, low, _ in rows)
    spread = statistics.stdev(margins) if len(margins) > 1 else 0.0
    print(
        f"k = {args.k}, seeds {args.first_seed}-{args.first_seed + args.seeds - 1}, "
        f"settings {json.dumps(settings)}: sure {sure}/{len(rows)}, above "
        f"{sum(m > 0 for m in margins)}/{len(rows)}, margin {statistics.mean(margins):+.2f} "
        f"(sd {spread:.2f}), train {statistics.mean(s for *_, s in rows):.1f} s"
    )
    print("margins:", " ".join(f"{m:+.1f}" for m in margins))


if __name__ == "__main__":
    main()
