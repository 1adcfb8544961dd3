"""``altmarl evaluate --continuous-run DIR``: re-run a trained continuous (G.2) pair.

``add_arguments(parser)`` adds ``--continuous-run`` to the ``evaluate`` parser (which already
has ``--n``, ``--k``, ``--rollouts``, ``--horizon``, ``--seed``, ``--json``);
``add_arguments(parser, shared=False)`` adds those too, for a stand-alone parser.
``run_continuous(args)`` evaluates the run's networks by online execution next to the
uniform-random baseline on the same episodes. Importing this module does not import torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from altmarl.cli._common import CliError, emit, nonneg_int, positive_int


def add_arguments(parser: argparse.ArgumentParser, *, shared: bool = True) -> None:
    parser.add_argument(
        "--continuous-run",
        type=Path,
        default=None,
        metavar="DIR",
        help="a run directory of 'reproduce continuous' (config.json + *.pt); "
        "--n, --k, --horizon default to the run's own",
    )
    if not shared:
        parser.add_argument("--n", type=positive_int, default=None)
        parser.add_argument("--k", type=positive_int, default=None)
        parser.add_argument("--rollouts", type=positive_int, default=50)
        parser.add_argument("--horizon", type=positive_int, default=None)
        parser.add_argument("--seed", type=nonneg_int, default=0)
        parser.add_argument("--json", action="store_true")


def run_continuous(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise CliError("--continuous-run needs torch: pip install 'altmarl[deep]'") from None
    from altmarl.continuous.training import evaluate_continuous_run

    if args.continuous_run is None:
        raise CliError("--continuous-run DIR is required")
    if not Path(args.continuous_run).is_dir():
        raise CliError(f"--continuous-run {args.continuous_run}: no such directory")
    out = evaluate_continuous_run(
        args.continuous_run,
        k=getattr(args, "k", None),
        n=getattr(args, "n", None),
        rollouts=args.rollouts,
        horizon=getattr(args, "horizon", None),
        seed=args.seed,
    )
    emit(out, getattr(args, "json", False))
    return 0
