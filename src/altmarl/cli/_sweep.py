"""Command-line pieces every study shares: the ``k`` list, the sweep arguments, and
running a study's sweep with a report of what it wrote."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from altmarl.cli._common import EXIT_JOBS_FAILED, CliError, emit, positive_int
from altmarl.experiments.sweep import BACKENDS, RESULTS_FILE, unfinished_jobs


def k_values(text: str) -> tuple[int, ...]:
    """``1,5,10`` or a range ``1-50`` (inclusive), optionally with a step ``1-50:7``."""
    try:
        values: list[int] = []
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                span, _, step = part.partition(":")
                lo, hi = (int(x) for x in span.split("-"))
                values.extend(range(lo, hi + 1, int(step) if step else 1))
            else:
                values.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list (1,5,10) or a range (1-50, 1-50:5) of integers"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every k must be >= 1")
    return tuple(sorted(set(values)))


def add_sweep_args(p: argparse.ArgumentParser) -> None:
    """Arguments every study shares: backend, workers, resume, output."""
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="local process pool (default) or Ray",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        help="Ray cluster address (default: start a local Ray instance)",
    )
    p.add_argument(
        "--workers", type=positive_int, default=None, help="parallel jobs (default: all cores)"
    )
    p.add_argument(
        "--quick", action="store_true", help="a reduced protocol (a few k and seeds; minutes)"
    )
    p.add_argument("--out", type=Path, required=True, help="study directory")
    p.add_argument("--resume", action="store_true", help="skip the jobs already finished")
    p.add_argument("--json", action="store_true")


def run_and_report(study: Any, run_study: Any, args: argparse.Namespace) -> int:
    """Run a study's sweep with the shared sweep arguments and print what it wrote."""
    if args.backend != "ray" and args.ray_address:
        raise CliError("--ray-address needs --backend ray")
    t0 = time.perf_counter()
    out = run_study(
        study,
        args.out,
        backend=args.backend,
        workers=args.workers,
        ray_address=args.ray_address,
        resume=args.resume,
    )
    jobs = study.jobs()
    failed = unfinished_jobs(out, jobs)
    result = {
        "out": str(out),
        "jobs": len(jobs),
        "finished": len(jobs) - len(failed),
        "failed": len(failed),
        "seconds": time.perf_counter() - t0,
        "files": sorted(p.name for p in out.iterdir() if p.is_file() and p.name[0] != "."),
    }
    emit(result, args.json)
    if failed:
        job, error = failed[0]
        print(
            f"altmarl {args.command}: {len(failed)} of {len(jobs)} jobs failed (status=failed "
            f"in {RESULTS_FILE}; the first, {job.key}: {error or 'not run'}); --resume "
            "reruns them",
            file=sys.stderr,
        )
        return EXIT_JOBS_FAILED
    return 0
