"""``altmarl reproduce``: the paper's studies as sweeps (warehouse, federated, grid;
continuous if installed)."""

from __future__ import annotations

import argparse
import dataclasses

from altmarl.cli._common import big_int, positive_int, samples_or_exact
from altmarl.cli._sweep import add_sweep_args, k_values, run_and_report
from altmarl.cli.reproduce_continuous import register_continuous

#: Built-in tabular scenarios with a study (``reproduce NAME``): the warehouse of Appendix
#: G.1 and the paper's Examples 2.6 and 2.5, on the same runner and figures.
TABULAR_STUDIES: dict[str, tuple[str, str]] = {
    "warehouse": (
        "Appendix G.1: value, runtime and mode mismatch against k",
        "Train and evaluate ALTERNATING-MARL on the warehouse for every (k, seed).",
    ),
    "federated": (
        "Example 2.6 (federated optimisation): value and runtime against k",
        "The warehouse study's protocol on the federated scenario (server and clients).",
    ),
    "grid": (
        "Example 2.5 (grid control): value and runtime against k",
        "The warehouse study's protocol on the grid scenario (operator and generators).",
    ),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="reproduce the paper's studies (sweeps + figures)")
    studies = p.add_subparsers(dest="study", required=True, parser_class=type(p))
    for name, (help_text, description) in TABULAR_STUDIES.items():
        w = studies.add_parser(name, help=help_text, description=description)
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
        w.add_argument(
            "--exploit-rollouts",
            type=positive_int,
            default=None,
            help="rollouts of each trained pair's exploit gains (default 200)",
        )
        w.add_argument(
            "--no-exploit",
            action="store_true",
            help="skip measuring each trained pair's best deviations (nash_gap_vs_k)",
        )
        add_sweep_args(w)
        w.set_defaults(func=run_warehouse, study_scenario=name)
    # the continuous study needs the [deep] extra only when it runs, not to register
    register_continuous(studies)


def run_warehouse(args: argparse.Namespace) -> int:
    """The warehouse study's sweep on the scenario the subcommand names."""
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
        exploit_rollouts=args.exploit_rollouts,
    )
    study = dataclasses.replace(study, scenario=getattr(args, "study_scenario", "warehouse"))
    if args.no_exploit:
        study = dataclasses.replace(study, exploit=False)
    if hasattr(args, "m"):  # may be None ('exact'), so not passed through with_overrides
        study = dataclasses.replace(study, m=args.m)
    return run_and_report(study, run_study, args)
