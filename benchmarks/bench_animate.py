"""Size and rendering time of ``altmarl animate`` GIFs against the number of steps.

    python benchmarks/bench_animate.py [--steps 100] [--scenarios warehouse,federated,grid]

Target: a 100-step episode is small enough to embed in a web page (at most 2 MB; about
0.5-0.6 MB measured). The pair animated is a fixed sample-mode dispatcher with uniform local
agents (what is drawn, not how it was learned, sets the file size).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from altmarl.counts import CountSpace
from altmarl.experiments.animation import animate_game
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.scenarios import get_scenario


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--scenarios", default="warehouse,federated,grid")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    print(f"n={args.n}, k={args.k}, {args.steps} steps, GIF (Pillow)")
    print(f"{'scenario':>10} {'frames':>6} {'MB':>6} {'wall s':>7} {'cpu s':>6} {'KB/frame':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.scenarios.split(","):
            game = get_scenario(name)
            mode = CountSpace(args.k, game.num_sl).all().argmax(axis=1) % game.num_ag
            pi_g = GlobalPolicy(np.tile(mode, (game.num_sg, 1)), args.k, game.num_sl, game.num_ag)
            pi_l = LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
            t0, c0 = time.perf_counter(), _cpu()
            out = animate_game(
                game, pi_g, pi_l, Path(tmp) / f"{name}.gif", n=args.n, k=args.k, horizon=args.steps
            )
            wall, cpu = time.perf_counter() - t0, _cpu() - c0
            size = out.stat().st_size
            print(
                f"{name:>10} {args.steps:>6} {size / 1e6:>6.2f} {wall:>7.1f} {cpu:>6.1f} "
                f"{size / 1e3 / args.steps:>8.1f}"
            )


if __name__ == "__main__":
    main()
