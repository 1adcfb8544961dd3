"""``altmarl reproduce continuous``: the G.2 study (needs the ``[deep]`` extra: torch).

Registered by :mod:`altmarl.cli.reproduce` through :func:`register_continuous`. Importing this
module does not import torch; running the study without torch exits 2 with one line.
"""

from __future__ import annotations

import argparse

from altmarl.cli._common import CliError, positive_int
from altmarl.cli._sweep import add_sweep_args, k_values, run_and_report


def register_continuous(studies: argparse._SubParsersAction) -> None:
    p = studies.add_parser(
        "continuous",
        help="Appendix G.2: continuous warehouse, neural dispatcher + TRPO robots",
        description=(
            "Train ALTERNATING-MARL with a neural dispatcher and a TRPO robot policy on the "
            "continuous warehouse for every (k, seed); plot return (beside the best constant "
            "and uniform dispatchers), the margin over the best constant, mode accuracy and "
            "runtime against k."
        ),
    )
    p.add_argument("--k-values", type=k_values, default=None, help="default 1,5,10,25,50,75")
    p.add_argument("--seeds", type=positive_int, default=None, help="default 15")
    p.add_argument(
        "--local-algo",
        default=None,
        help="the L step's learner (default trpo; the study lists the others if misspelt)",
    )
    p.add_argument("--rollouts", type=positive_int, default=None, help="default 50")
    p.add_argument("--horizon", type=positive_int, default=None, help="default 100")
    p.add_argument("--n", type=positive_int, default=None, help="default 500")
    p.add_argument("--alternations", type=positive_int, default=None, help="default 30")
    p.add_argument(
        "--eval-episodes",
        type=positive_int,
        default=None,
        help="episodes per UPDATE comparison (default 4)",
    )
    p.add_argument(
        "--protocol",
        default=None,
        help="ours (default) or paper: the authors' evaluation (horizon 50, robots by "
        "argmax, a dispatcher that reads only the histogram, mode accuracy at the start)",
    )
    p.add_argument(
        "--dispatcher-init",
        default=None,
        help="fresh or mode-classifier (the dispatcher starts as the paper's classifier of "
        "the population mode); default fresh, mode-classifier under --protocol paper",
    )
    add_sweep_args(p)
    p.set_defaults(func=run_continuous_study)


def default_init(protocol: str | None) -> str | None:
    """The dispatcher's start under ``protocol``: the paper's protocol starts where the
    authors' pipeline does, from their mode classifier."""
    return "mode-classifier" if protocol == "paper" else None


def run_continuous_study(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise CliError("reproduce continuous needs torch: pip install 'altmarl[deep]'") from None
    from altmarl.experiments.continuous_study import ContinuousStudy, run_study
    from altmarl.experiments.sweep import with_overrides

    study = ContinuousStudy.quick() if args.quick else ContinuousStudy()
    study = with_overrides(
        study,
        k_values=args.k_values,
        seeds=args.seeds,
        local_algo=args.local_algo,
        rollouts=args.rollouts,
        horizon=args.horizon,
        n=args.n,
        alternations=args.alternations,
        eval_episodes=args.eval_episodes,
        protocol=args.protocol,
        dispatcher_init=args.dispatcher_init or default_init(args.protocol),
    )
    return run_and_report(study, run_study, args)
