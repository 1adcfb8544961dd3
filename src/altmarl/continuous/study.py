"""The continuous study (SPEC §7 G.2): train at every ``(k, seed)``, evaluate, plot.

Runs on the generic sweep runner (``altmarl.experiments.sweep``): one job per ``(k, seed)``
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

import numpy as np

from altmarl.errors import AltmarlError
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
        from altmarl.continuous.local_learn import LOCAL_ALGOS

        if self.local_algo not in LOCAL_ALGOS:
            raise AltmarlError(f"--local-algo {self.local_algo!r} must be one of {LOCAL_ALGOS}")

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


def run_dir(out: Path, k: int, seed: int) -> Path:
    return Path(out) / "runs" / f"k{k}_seed{seed}"


def _save_run(out: Path):
    def save(job: Job, record: dict[str, Any]) -> None:
        from altmarl.continuous.training import save_run

        save_run(record.pop("_result"), run_dir(out, job.key["k"], job.key["seed"]))

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


# ---------------------------------------------------------------------------- figures


def _stats(values: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
    ks = np.array(sorted(values))
    mean = np.array([values[k].mean() for k in ks])
    std = np.array([values[k].std(ddof=1) if values[k].size > 1 else 0.0 for k in ks])
    n = np.array([values[k].size for k in ks])
    return ks, mean, std, n


def continuous_figures(out: Path, study: ContinuousStudy) -> dict[str, Path]:
    """Write every figure, its CSV and ``summary.md`` from ``out/results.csv``."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    from altmarl.experiments.figures import band_plot, write_csv
    from altmarl.experiments.warehouse import load_ok_rows, per_k

    out = Path(out)
    rows = load_ok_rows(out)
    if not rows:
        return {}
    written: dict[str, Path] = {}
    ks, v_mean, v_std, n_ok = _stats(per_k(rows, "value"))
    _, b_mean, b_std, _ = _stats(per_k(rows, "baseline_value"))
    _, a_mean, a_std, _ = _stats(per_k(rows, "mode_accuracy"))
    _, ab_mean, _, _ = _stats(per_k(rows, "baseline_mode_accuracy"))
    _, t_mean, t_std, _ = _stats(per_k(rows, "train_seconds"))

    def figure(name: str, header, table, ylabel: str, draw) -> None:
        write_csv(out / f"{name}.csv", header, table)
        fig, ax = plt.subplots(figsize=(6, 4))
        draw(ax)
        ax.set_xlabel("k (robots the dispatcher samples)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=120)
        plt.close(fig)
        written[name] = out / f"{name}.png"

    def reward(ax) -> None:
        band_plot(ax, ks, v_mean, v_std, f"ALTERNATING-MARL ({study.local_algo.upper()})")
        ax.plot(ks, b_mean, ls="--", color="gray", label="uniform random")

    figure(
        "reward_vs_k_continuous",
        ["k", "seeds", "value_mean", "value_std", "baseline_mean", "baseline_std"],
        list(zip(ks, n_ok, v_mean, v_std, b_mean, b_std, strict=True)),
        f"discounted return (horizon {study.horizon})",
        reward,
    )

    def accuracy(ax) -> None:
        band_plot(ax, ks, a_mean, a_std, "dispatcher")
        ax.plot(ks, ab_mean, ls="--", color="gray", label="uniform random")
        ax.set_ylim(0, 1.02)

    figure(
        "mode_accuracy_vs_k",
        ["k", "seeds", "accuracy_mean", "accuracy_std", "baseline_accuracy"],
        list(zip(ks, n_ok, a_mean, a_std, ab_mean, strict=True)),
        "P(dispatcher's bin = true population mode)",
        accuracy,
    )
    figure(
        "runtime_vs_k_continuous",
        ["k", "seeds", "train_seconds_mean", "train_seconds_std"],
        list(zip(ks, n_ok, t_mean, t_std, strict=True)),
        "training wall time per run (s)",
        lambda ax: band_plot(ax, ks, t_mean, t_std, "train (30 alternations)"),
    )
    heat = _zone_heatmap(out, int(ks.max()), study)
    if heat is not None:
        written["zone_heatmap_continuous"] = heat
    written["summary"] = _summary(out, study, ks, n_ok, v_mean, v_std, b_mean, a_mean, t_mean)
    return written


def _zone_heatmap(out: Path, k: int, study: ContinuousStudy) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from altmarl.continuous.env import BIN_CENTRES, NUM_BINS, bin_counts, bin_index
    from altmarl.continuous.training import evaluate_pair, load_run

    runs = sorted((out / "runs").glob(f"k{k}_seed*"))
    if not runs:
        return None
    config, dispatcher, policy = load_run(runs[0])
    ev = evaluate_pair(config.warehouse(), dispatcher, policy, k, 1, config.seed, record=True)
    roll = ev["rollout"]
    occupancy = (bin_counts(bin_index(roll.s_l[:, 0])) / config.n).numpy()  # [H, 5]
    choice = roll.global_actions[:, 0].numpy()
    mode = roll.modes[:, 0].numpy()
    H = occupancy.shape[0]
    from altmarl.experiments.figures import write_csv

    write_csv(
        out / "zone_heatmap_continuous.csv",
        ["t", *[f"bin{b}" for b in range(NUM_BINS)], "dispatcher_bin", "true_mode"],
        [[t, *occupancy[t].tolist(), int(choice[t]), int(mode[t])] for t in range(H)],
    )
    fig, ax = plt.subplots(figsize=(8, 3.5))
    im = ax.imshow(occupancy.T, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=1)
    ax.plot(np.arange(H), choice, "w.", ms=5, label="dispatcher's bin")
    ax.plot(np.arange(H), mode, "r-", lw=1, label="true mode")
    ax.set_yticks(range(NUM_BINS), [f"{c:+.1f}" for c in BIN_CENTRES])
    ax.set_xlabel("t")
    ax.set_ylabel("bin centre")
    ax.set_title(f"robot occupancy, k = {k} ({runs[0].name})")
    fig.colorbar(im, ax=ax, label="share of robots")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path = out / "zone_heatmap_continuous.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _summary(out, study, ks, n_ok, v_mean, v_std, b_mean, a_mean, t_mean) -> Path:
    lines = [
        "# Continuous warehouse (Appendix G.2): ALTERNATING-MARL with TRPO",
        "",
        f"n = {study.n}, horizon = {study.horizon}, gamma = 0.95, "
        f"{study.alternations} alternations, local algorithm {study.local_algo}, "
        f"{study.rollouts} evaluation rollouts per seed, up to {study.seeds} seeds per k.",
        "Baseline: uniform-random dispatcher and robots on the same episodes.",
        "",
        "| k | seeds | return (mean +- std) | uniform random | ratio | mode accuracy | train s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, k in enumerate(ks):
        lines.append(
            f"| {k} | {n_ok[i]} | {v_mean[i]:.1f} +- {v_std[i]:.1f} | {b_mean[i]:.1f} "
            f"| {v_mean[i] / b_mean[i]:.2f} | {a_mean[i]:.3f} | {t_mean[i]:.1f} |"
        )
    path = out / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path
