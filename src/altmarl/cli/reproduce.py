"""``altmarl reproduce``: the paper's studies as sweeps (warehouse; continuous if installed)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import time
from pathlib import Path

from altmarl.cli._common import CliError, big_int, emit, positive_int, samples_or_exact


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
        choices=("local", "ray"),
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="reproduce the paper's studies (sweeps + figures)")
    studies = p.add_subparsers(dest="study", required=True, parser_class=type(p))
    w = studies.add_parser(
        "warehouse",
        help="Appendix G.1: value, runtime and mode mismatch against k",
        description="Train and evaluate ALTERNATING-MARL on the warehouse for every (k, seed).",
    )
    w.add_argument("--k-values", type=k_values, default=None, help="default 1-50")
    w.add_argument("--seeds", type=positive_int, default=None, help="default 15")
    w.add_argument("--rollouts", type=positive_int, default=None, help="default 50")
    w.add_argument("--horizon", type=positive_int, default=None, help="default 100")
    w.add_argument("--n", type=big_int, default=None, help="default 1000")
    w.add_argument("--alternations", type=positive_int, default=None, help="default 10")
    w.add_argument(
        "--m",
        type=samples_or_exact,
        default=argparse.SUPPRESS,
        help="G-LEARN samples per entry or 'exact' (default 30)",
    )
    add_sweep_args(w)
    w.set_defaults(func=run_warehouse)
    try:  # the continuous study needs the [deep] extra
        importlib.import_module("altmarl.cli.reproduce_continuous").register_continuous(studies)
    except ImportError:
        pass


def run_warehouse(args: argparse.Namespace) -> int:
    from altmarl.experiments.sweep import with_overrides
    from altmarl.experiments.warehouse import WarehouseStudy, run_study

    study = WarehouseStudy.quick() if args.quick else WarehouseStudy()
    study = with_overrides(
        study,
        k_values=args.k_values,
        seeds=args.seeds,
        rollouts=args.rollouts,
        horizon=args.horizon,
        n=args.n,
        alternations=args.alternations,
    )
    if hasattr(args, "m"):  # may be None ('exact'), so not passed through with_overrides
        study = dataclasses.replace(study, m=args.m)
    return run_and_report(study, run_study, args)


def run_and_report(study, run_study, args: argparse.Namespace) -> int:
    """Run a study's sweep with the shared sweep arguments and print what it wrote."""
    from altmarl.experiments.warehouse import load_ok_rows

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
    result = {
        "out": str(out),
        "jobs": len(study.jobs()),
        "finished": len(load_ok_rows(out)),
        "seconds": time.perf_counter() - t0,
        "files": sorted(p.name for p in out.iterdir() if p.is_file()),
    }
    emit(result, args.json)
    return 0
