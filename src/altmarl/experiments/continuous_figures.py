"""Figures of the continuous study (SPEC §7 G.2), each with the CSV behind it.

``reward_vs_k_continuous.png`` (mean +- std over seeds, with the uniform-random baseline),
``mode_accuracy_vs_k.png``, ``runtime_vs_k_continuous.png``, ``zone_heatmap_continuous.png``
(robot occupancy of the five bins over one evaluation episode at the largest ``k``, seed 0,
with the dispatcher's choice and the true mode), and ``summary.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from altmarl.experiments.plotting import band_plot, plt, write_csv
from altmarl.experiments.results import load_ok_rows, per_k, seed_stats, study_run_dir


def continuous_figures(out: Path, study: Any) -> dict[str, Path]:
    """Write every figure, its CSV and ``summary.md`` from ``out/results.csv``."""
    out = Path(out)
    rows = load_ok_rows(out)
    if not rows:
        return {}
    written: dict[str, Path] = {}
    ks, v_mean, v_std, _, _, n_ok = seed_stats(per_k(rows, "value"))
    _, b_mean, b_std, *_ = seed_stats(per_k(rows, "baseline_value"))
    _, a_mean, a_std, *_ = seed_stats(per_k(rows, "mode_accuracy"))
    _, ab_mean, *_ = seed_stats(per_k(rows, "baseline_mode_accuracy"))
    _, t_mean, t_std, *_ = seed_stats(per_k(rows, "train_seconds"))

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
        lambda ax: band_plot(ax, ks, t_mean, t_std, f"train ({study.alternations} alternations)"),
    )
    heat = _zone_heatmap(out, int(ks.max()), study)
    if heat is not None:
        written["zone_heatmap_continuous"] = heat
    written["summary"] = _summary(out, study, ks, n_ok, v_mean, v_std, b_mean, a_mean, t_mean)
    return written


def _zone_heatmap(out: Path, k: int, study: Any) -> Path | None:
    from altmarl.continuous.env import BIN_CENTRES, NUM_BINS, bin_counts, bin_index
    from altmarl.continuous.training import evaluate_pair, load_run

    runs = sorted(study_run_dir(out, k, 0).parent.glob(f"k{k}_seed*"))
    if not runs:
        return None
    config, dispatcher, policy = load_run(runs[0])
    ev = evaluate_pair(config.warehouse(), dispatcher, policy, k, 1, config.seed, record=True)
    roll = ev["rollout"]
    occupancy = (bin_counts(bin_index(roll.s_l[:, 0])) / config.n).numpy()  # [H, 5]
    choice = roll.global_actions[:, 0].numpy()
    mode = roll.modes[:, 0].numpy()
    H = occupancy.shape[0]
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
        f"n = {study.n}, horizon = {study.horizon}, gamma = {_gamma()}, "
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


def _gamma() -> float:
    """The scenario's discount (the study runs the continuous warehouse's default)."""
    from altmarl.continuous.env import ContinuousWarehouse

    return ContinuousWarehouse().gamma
