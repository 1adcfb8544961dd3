"""The warehouse study of Appendix G.1 (SPEC §7): train and evaluate over a (k, seed) grid.

One job = one full ALTERNATING-MARL training run at ``(k, seed)`` plus its evaluation
(``rollouts`` x ``horizon`` online execution with ``n`` robots), the mode-mismatch rate
of its dispatcher, the two reference dispatchers (uniform-random, best constant) against
the same local policy with common random numbers, and (``exploit``) each player's best
deviation found against the trained pair with its measured gain (:mod:`altmarl.exploit`).

The same study runs on any built-in tabular scenario (``scenario``: ``warehouse``, the
default, ``federated``, ``grid``; ``altmarl reproduce SCENARIO``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altmarl.counts import MAX_POPULATION
from altmarl.errors import AltmarlError
from altmarl.experiments.figures import warehouse_figures
from altmarl.experiments.results import policy_dir
from altmarl.experiments.sweep import Job, sweep_study

if TYPE_CHECKING:
    from altmarl.alternating import AlternatingConfig

FIELDNAMES = (
    "value",
    "value_std",
    "mode_mismatch",
    "uniform_value",
    "best_constant_value",
    "max_constant_value",
    "train_seconds",
    "global_samples",
    "local_samples",
    "accepted",
    "rejected",
    "proposals",
    "terminated_early",
    "inconclusive",
    "global_gain",
    "global_gain_lo",
    "global_gain_hi",
    "global_deviation",
    "local_gain",
    "local_gain_lo",
    "local_gain_hi",
    "local_deviation",
    "exploit_seconds",
)
#: Extra G-LEARN budgets ``k' = 2k, 4k`` of the study's exploit while ``|C_k'|`` is at most
#: this (``k' <= 20`` on the warehouse): beyond, one G-LEARN call costs more than the job.
EXPLOIT_BUDGET_STATES = 11_000


@dataclass(frozen=True)
class WarehouseStudy:
    """The protocol (defaults: SPEC §7 G.1; ``order`` and ``eps_tol`` documented in docs/)."""

    k_values: tuple[int, ...] = tuple(range(1, 51))
    seeds: int = 15
    rollouts: int = 50
    horizon: int = 100
    n: int = 1000
    alternations: int = 10
    m: int | None = 30
    order: tuple[str, ...] = ("local", "global")
    eps_tol: float = 0.25
    update_rollouts: int = 32
    local_oracle: str = "mean-field"
    tol: float = 1e-2
    global_candidates: str = "safeguarded"
    reuse_global_response: bool = True
    scenario: str = "warehouse"
    exploit: bool = True
    exploit_rollouts: int = 200

    @classmethod
    def quick(cls) -> WarehouseStudy:
        """A reduced protocol (a few k, a few seeds) that finishes in about a minute."""
        return cls(k_values=(1, 6, 24), seeds=2, rollouts=30, alternations=4)

    def validate(self) -> None:
        from altmarl.scenarios import get_scenario

        game = get_scenario(self.scenario)  # an unknown name: an AltmarlError naming --scenario
        if not self.k_values:
            raise AltmarlError("--k-values is empty")
        if min(self.k_values) < 1 or max(self.k_values) > self.n:
            raise AltmarlError(
                f"--k-values must lie in [1, --n {self.n}], got {min(self.k_values)}.."
                f"{max(self.k_values)}"
            )
        for name in (
            "seeds",
            "rollouts",
            "horizon",
            "alternations",
            "update_rollouts",
            "exploit_rollouts",
        ):
            if getattr(self, name) < 1:
                raise AltmarlError(f"--{name} {getattr(self, name)} must be >= 1")
        if self.n > MAX_POPULATION:
            raise AltmarlError(f"--n {self.n} is over 10**18, the largest population supported")
        # the costliest job must fit before any job starts (a job's failure comes too late)
        from altmarl.alternating.marl import check_run_memory

        check_run_memory(game, job_config(self.jobs()[0].params))

    def jobs(self) -> list[Job]:
        base = {key: val for key, val in asdict(self).items() if key not in ("k_values", "seeds")}
        # largest k first: the costliest jobs start early, and the small ones fill the
        # workers at the end instead of one k = 50 job running alone
        return [
            Job({"k": k, "seed": s}, {**base, "k": k, "seed": s})
            for k in sorted(self.k_values, reverse=True)
            for s in range(self.seeds)
        ]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["k_values"] = list(self.k_values)
        d["order"] = list(self.order)
        if self.scenario == "warehouse":
            # the warehouse study's study.json predates the field: keep it byte for byte, so
            # --resume accepts the studies started before
            del d["scenario"]
        return d


def job_config(params: dict[str, Any]) -> AlternatingConfig:
    """The training configuration of one job."""
    from altmarl.alternating import AlternatingConfig

    return AlternatingConfig(
        k=int(params["k"]),
        n=int(params["n"]),
        alternations=int(params["alternations"]),
        order=tuple(params["order"]),
        eps_tol=params["eps_tol"],
        update_rollouts=int(params["update_rollouts"]),
        final_rollouts=int(params["rollouts"]),
        final_horizon=int(params["horizon"]),
        seed=int(params["seed"]),
        m=params["m"],
        local_oracle=params["local_oracle"],
        tol=float(params["tol"]),
        global_candidates=params["global_candidates"],
        reuse_global_response=bool(params["reuse_global_response"]),
    )


def warehouse_job(params: dict[str, Any]) -> dict[str, Any]:
    """Train at ``(k, seed)`` and evaluate; a top-level function so workers can import it."""
    from altmarl.scenarios import get_scenario
    from altmarl.training import train_and_compare

    game = get_scenario(params.get("scenario", "warehouse"))
    report = train_and_compare(game, job_config(params), record=True, progress=False)
    res, base, ev = report.result, report.baselines, report.rollouts
    assert base is not None and ev is not None
    summary = res.summary()
    gains = _exploit_fields(game, res, params) if params.get("exploit") else {}
    return {
        "value": ev.mean,
        "value_std": ev.std,
        "mode_mismatch": ev.mode_mismatch_rate,
        "uniform_value": base.uniform,
        "best_constant_value": base.best_constant,
        "max_constant_value": base.max_constant,
        "train_seconds": summary["seconds"],
        "global_samples": summary["global_samples"],
        "local_samples": summary["local_samples"],
        "accepted": res.accepted,
        "rejected": res.rejected,
        "proposals": len(res.history),
        "terminated_early": res.terminated_early,
        "inconclusive": res.inconclusive,
        **{
            name: gains.get(name, "")
            for name in FIELDNAMES
            if "gain" in name or "deviation" in name
        },
        "exploit_seconds": gains.get("exploit_seconds", ""),
        "_global_table": res.global_policy.table,
        "_local_table": res.local_policy.probs,
    }


def _exploit_fields(game: Any, res: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Each player's best deviation found against the trained pair (:mod:`altmarl.exploit`):
    G-LEARN at ``k`` (the run's last answer when it answered this local policy) and at
    ``2k, 4k`` while cheap (:data:`EXPLOIT_BUDGET_STATES`), the mean-field oracle's answer."""
    from altmarl.counts import CountSpace
    from altmarl.exploit import ExploitConfig, exploit

    k = int(params["k"])
    extra = [f * k for f in (2, 4) if CountSpace(f * k, game.num_sl).size <= EXPLOIT_BUDGET_STATES]
    config = ExploitConfig(
        n=int(params["n"]),
        k=k,
        rollouts=int(params["exploit_rollouts"]),
        budgets=(k, *extra),
        m=params["m"],
        tol=float(params["tol"]),
        seed=int(params["seed"]),
        previous=res.last_answer,
    )
    rep = exploit(game, res.global_policy, res.local_policy, config)
    out: dict[str, Any] = {"exploit_seconds": rep.seconds}
    for dev in (rep.global_, rep.local):
        out[f"{dev.player}_gain"] = dev.gain
        out[f"{dev.player}_gain_lo"], out[f"{dev.player}_gain_hi"] = dev.ci
        out[f"{dev.player}_deviation"] = dev.name
    return out


def _save_policy(out: Path, scenario: str):
    def save(job: Job, record: dict[str, Any]) -> None:
        from altmarl.policies import GlobalPolicy, LocalPolicy
        from altmarl.policy_dir import save_policy_dir
        from altmarl.scenarios import get_scenario

        game = get_scenario(scenario)
        k = job.key["k"]
        pi_g = GlobalPolicy(record.pop("_global_table"), k, game.num_sl, game.num_ag)
        pi_l = LocalPolicy(record.pop("_local_table"))
        save_policy_dir(
            policy_dir(out, k, job.key["seed"]),
            pi_g,
            pi_l,
            game_fingerprint=game.fingerprint,
            extra_meta={"seed": job.key["seed"]},
        )

    return save


def run_study(
    study: WarehouseStudy,
    out: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    resume: bool = False,
    progress: bool | None = None,
    figures: bool = True,
) -> Path:
    """Run the sweep, then write the figures, their CSVs and ``summary.md`` into ``out``."""
    study.validate()
    return sweep_study(
        out,
        study.to_json(),
        study.jobs(),
        warehouse_job,
        fieldnames=FIELDNAMES,
        on_result=_save_policy(Path(out), study.scenario),
        write_figures=(lambda d: warehouse_figures(d, study)) if figures else None,
        backend=backend,
        workers=workers,
        ray_address=ray_address,
        resume=resume,
        progress=progress,
    )
