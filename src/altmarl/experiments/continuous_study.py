"""The continuous study (SPEC §7 G.2): train at every ``(k, seed)``, evaluate, plot.

Runs on the generic sweep runner (:mod:`altmarl.experiments.sweep`): one job per ``(k, seed)``
trains ALTERNATING-MARL (``altmarl.continuous.training``), evaluates the pair beside its
reference dispatchers on the same ``rollouts`` episodes (the best constant dispatcher with
the same trained robots, chosen on held-out episodes; the uniform dispatcher with the same
robots; uniform dispatcher and robots), and returns the networks' state dicts, which the
driver process saves under ``runs/k{k}_seed{seed}/`` (so a Ray cluster's results land in
the study directory).

``protocol``: ``ours`` (default) or ``paper`` (the authors' evaluation: horizon 50, robots
acting by argmax, a dispatcher that reads only the histogram; initial-mode accuracy on
fresh starts), see :mod:`altmarl.continuous.evaluation`. Every job pins torch to one
thread, so the records do not depend on the number of workers or cores.

Figures (each with the CSV behind it, :mod:`~altmarl.experiments.continuous_figures`):
``reward_vs_k_continuous.png``, ``margin_vs_k_continuous.png``, ``mode_accuracy_vs_k.png``,
``runtime_vs_k_continuous.png``, ``zone_heatmap_continuous.png``, and ``summary.md``.
"""

from __future__ import annotations

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
    "initial_mode_accuracy",
    "classifier_start_accuracy",
    "best_constant_bin",
    "best_constant_value",
    "margin",
    "margin_stderr",
    "margin_low",
    "margin_high",
    "uniform_dispatcher_value",
    "baseline_value",
    "baseline_mode_accuracy",
    "train_seconds",
    "train_cpu_seconds",
    "accepted_local",
    "accepted_global",
    "global_best_gain",
    "global_best_gain_stderr",
)

PROTOCOLS = ("ours", "paper")
DISPATCHER_INITS = ("fresh", "mode-classifier")


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
    eval_episodes: int = 4
    protocol: str = "ours"
    dispatcher_init: str = "fresh"

    @classmethod
    def quick(cls) -> ContinuousStudy:
        """A reduced protocol (3 k values, 2 seeds, 12 alternations): about a minute."""
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
        if self.protocol not in PROTOCOLS:
            raise AltmarlError(f"--protocol {self.protocol!r} must be one of {PROTOCOLS}")
        if self.dispatcher_init not in DISPATCHER_INITS:
            raise AltmarlError(
                f"--dispatcher-init {self.dispatcher_init!r} must be one of {DISPATCHER_INITS}"
            )
        LocalLearnConfig(algo=self.local_algo)  # a learner's missing package: one error here

    def jobs(self) -> list[Job]:
        """Seed-major order, so an interrupted sweep already covers every ``k``."""
        base = {key: val for key, val in asdict(self).items() if key not in ("k_values", "seeds")}
        return [
            Job({"k": k, "seed": s}, {**base, "k": k, "seed": s})
            for s in range(self.seeds)
            for k in self.k_values
        ]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["k_values"] = list(self.k_values)
        return d


def config_for(params: dict[str, Any]) -> Any:
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
        protocol=str(params.get("protocol", "ours")),
        dispatcher_init=str(params.get("dispatcher_init", "fresh")),
    )


def continuous_job(params: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate at ``(k, seed)``; top-level so worker processes can import it."""
    from altmarl.continuous.training import train_continuous
    from altmarl.experiments.sweep_backends import worker_threads

    # in a pool's worker, the rollouts get the worker's share of the cores (results
    # are the same on any number: rollout_threads)
    res = train_continuous(config_for(params), threads_for_rollouts=worker_threads())
    s = res.summary()
    record = {name: s[name] for name in FIELDNAMES if name in s}
    record["train_seconds"] = s["seconds"]
    record["train_cpu_seconds"] = s["cpu_seconds"]
    return {**record, "_result": res}


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
    return sweep_study(
        out,
        study.to_json(),
        study.jobs(),
        continuous_job,
        fieldnames=list(FIELDNAMES),
        on_result=_save_run(Path(out)),
        write_figures=(lambda d: continuous_figures(d, study)) if figures else None,
        backend=backend,
        workers=workers,
        ray_address=ray_address,
        resume=resume,
        progress=progress,
    )
