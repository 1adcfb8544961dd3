"""The continuous study (SPEC §7 G.2): train at every ``(k, seed)``, evaluate, plot.

Runs on the generic sweep runner (:mod:`altmarl.experiments.sweep`): one job per ``(k, seed)``
trains ALTERNATING-MARL with TRPO (``training``), evaluates the pair and the uniform-random
baseline (uniform dispatcher AND uniform robots) on the same ``rollouts`` episodes, and
returns the networks' state dicts, which the driver process saves under
``runs/k{k}_seed{seed}/`` (so a Ray cluster's results land in the study directory).

Figures (each with the CSV behind it): ``reward_vs_k_continuous.png`` (mean +- std over
seeds, with the uniform-random baseline), ``mode_accuracy_vs_k.png``,
``runtime_vs_k_continuous.png``, ``zone_heatmap_continuous.png`` (robot occupancy of the
five bins over one evaluation episode at the largest ``k``, seed 0, with the dispatcher's
choice and the true mode), and ``summary.md``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from altmarl.errors import AltmarlError
from altmarl.experiments.continuous_figures import continuous_figures
from altmarl.experiments.results import study_run_dir
from altmarl.experiments.sweep import Job, sweep_study

FIELDNAMES = (
    "value",
    "value_std",
    "mode_accuracy",
    "baseline_value",
    "baseline_mode_accuracy",
    "train_seconds",
    "accepted_local",
    "accepted_global",
)


@dataclass(frozen=True)
class ContinuousStudy:
    """The protocol (defaults: SPEC §7 G.2)."""

    k_values: tuple[int, ...] = (1, 5, 10, 25, 50, 75)
    seeds: int = 15
    rollouts: int = 50
    horizon: int = 100
    n: int = 500
    alternations: int = 30
    local_algo: str = "trpo"
    eval_episodes: int = 8

    @classmethod
    def quick(cls) -> ContinuousStudy:
        """A reduced protocol (3 k values, 2 seeds, 12 alternations): about two minutes."""
        return cls(k_values=(1, 10, 50), seeds=2, rollouts=20, alternations=12)

    def validate(self) -> None:
        if not self.k_values:
            raise AltmarlError("--k-values is empty")
        if min(self.k_values) < 1 or max(self.k_values) > self.n:
            raise AltmarlError(
                f"--k-values must lie in [1, --n {self.n}], got {min(self.k_values)}.."
                f"{max(self.k_values)}"
            )
        for name in ("seeds", "rollouts", "horizon", "n", "alternations", "eval_episodes"):
            if getattr(self, name) < 1:
                raise AltmarlError(f"--{name.replace('_', '-')} {getattr(self, name)} must be >= 1")
        from altmarl.continuous.local_learn import LOCAL_ALGOS, LocalLearnConfig

        if self.local_algo not in LOCAL_ALGOS:
            raise AltmarlError(f"--local-algo {self.local_algo!r} must be one of {LOCAL_ALGOS}")
        LocalLearnConfig(algo=self.local_algo)  # a learner's missing package: one error here

    def jobs(self, threads: int = 1) -> list[Job]:
        """Seed-major order, so an interrupted sweep already covers every ``k``."""
        base = {key: val for key, val in asdict(self).items() if key not in ("k_values", "seeds")}
        return [
            Job({"k": k, "seed": s}, {**base, "k": k, "seed": s, "threads": threads})
            for s in range(self.seeds)
            for k in self.k_values
        ]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["k_values"] = list(self.k_values)
        return d


def config_for(params: dict[str, Any]):
    """The training configuration of one job."""
    from altmarl.continuous.local_learn import LocalLearnConfig
    from altmarl.continuous.training import ContinuousConfig

    return ContinuousConfig(
        k=int(params["k"]),
        seed=int(params["seed"]),
        alternations=int(params["alternations"]),
        n=int(params["n"]),
        horizon=int(params["horizon"]),
        eval_episodes=int(params["eval_episodes"]),
        final_rollouts=int(params["rollouts"]),
        local=LocalLearnConfig(algo=str(params["local_algo"])),
    )


def continuous_job(params: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate at ``(k, seed)``; top-level so worker processes can import it."""
    import torch

    from altmarl.continuous.training import train_continuous

    # One torch thread per job when the sweep runs one job per core.
    torch.set_num_threads(int(params.get("threads", 1)))
    res = train_continuous(config_for(params))
    s = res.summary()
    return {
        "value": s["value"],
        "value_std": s["value_std"],
        "mode_accuracy": s["mode_accuracy"],
        "baseline_value": s["baseline_value"],
        "baseline_mode_accuracy": s["baseline_mode_accuracy"],
        "train_seconds": s["seconds"],
        "accepted_local": s["accepted_local"],
        "accepted_global": s["accepted_global"],
        "_result": res,
    }


def _save_run(out: Path):
    def save(job: Job, record: dict[str, Any]) -> None:
        from altmarl.continuous.training import save_run

        save_run(record.pop("_result"), study_run_dir(out, job.key["k"], job.key["seed"]))

    return save


def run_study(
    study: ContinuousStudy,
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
    cores = os.cpu_count() or 1
    n_workers = workers or cores
    return sweep_study(
        out,
        study.to_json(),
        study.jobs(threads=max(1, cores // n_workers)),
        continuous_job,
        fieldnames=list(FIELDNAMES),
        on_result=_save_run(Path(out)),
        write_figures=(lambda d: continuous_figures(d, study)) if figures else None,
        backend=backend,
        workers=n_workers,
        ray_address=ray_address,
        resume=resume,
        progress=progress,
    )
