"""Cost of one crash-consistent checkpoint of ``altmarl train`` on the warehouse against k.

    python benchmarks/bench_checkpoint.py [--k-values 10,20,30] [--repeats 5]

A checkpoint (``RunDirectory.save``) writes the pair, the history (20 rows here), the last
``Qhat`` and the state into ``steps/<step>/``, fsyncs them, renames the directory and
switches the link ``current``; ``--resume`` reads it back with every check
(``RunDirectory.load``). Wall time includes the fsyncs (the disk's latency); CPU time does
not. A training step takes seconds (k = 10) to minutes (k = 50), so a checkpoint should
stay a small fraction of it. Medians over ``--repeats``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from altmarl.alternating import AlternatingConfig, AlternatingMARL
from altmarl.alternating.driver import RunState
from altmarl.alternating.history import HISTORY_FIELDS, HistoryRow
from altmarl.alternating.rundir import STEPS_DIR, RunDirectory
from altmarl.oracles import PreviousAnswer, policy_fingerprint
from altmarl.scenarios import warehouse


def history(steps: int) -> tuple[HistoryRow, ...]:
    text = {"player": "global", "decision": "accept", "candidate": "g-learn"}
    rows = []
    for s in range(steps):
        values = {f: (text[f] if f in text else 0) for f in HISTORY_FIELDS}
        values.update(step=s, old_value=100.0 + s / 7, new_value=101.0 + s / 7)
        rows.append(HistoryRow(**values))  # type: ignore[arg-type]
    return tuple(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--k-values", default="10,20,30")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    game = warehouse()
    print(f"warehouse, checkpoint of step 20, medians of {args.repeats}")
    print(
        f"{'k':>4} {'|C_k|':>8} {'MB':>7} {'save ms':>8} {'save cpu ms':>11} "
        f"{'load ms':>8} {'load cpu ms':>11}"
    )
    for k in (int(x) for x in args.k_values.split(",")):
        config = AlternatingConfig(k=k, n=1000)
        marl = AlternatingMARL(game, config)
        pi_g, pi_l = marl.initial_pair()
        q = np.random.default_rng(0).random((game.num_sg, pi_g.space.size, game.num_ag))
        timings: dict[str, list[float]] = {"save": [], "save_cpu": [], "load": [], "load_cpu": []}
        size = 0
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.repeats):
                directory = RunDirectory(Path(tmp) / f"run{r}")
                directory.root.mkdir()
                directory.start(config.to_json(), game)
                state = RunState(
                    pi_g,
                    pi_l,
                    history=history(20),
                    step=20,
                    memo=PreviousAnswer(q, policy_fingerprint(pi_l)),
                )
                w, c = time.perf_counter(), time.process_time()
                directory.save(state, game)
                timings["save"].append(time.perf_counter() - w)
                timings["save_cpu"].append(time.process_time() - c)
                w, c = time.perf_counter(), time.process_time()
                directory.load(game, config.to_json())
                timings["load"].append(time.perf_counter() - w)
                timings["load_cpu"].append(time.process_time() - c)
                step = directory.root / STEPS_DIR / "000020"
                size = sum(p.stat().st_size for p in step.rglob("*") if p.is_file())
        ms = {key: 1000 * statistics.median(v) for key, v in timings.items()}
        print(
            f"{k:>4} {pi_g.space.size:>8} {size / 1e6:>7.2f} {ms['save']:>8.1f} "
            f"{ms['save_cpu']:>11.1f} {ms['load']:>8.1f} {ms['load_cpu']:>11.1f}"
        )


if __name__ == "__main__":
    main()
