"""Figures of the continuous study (SPEC §7 G.2), each with the CSV behind it.

* ``reward_vs_k_continuous.png`` -- the trained pair's return (mean +- std over seeds) beside
  the best constant dispatcher and the uniform dispatcher with the same trained robots, and
  uniform dispatcher and robots (under ``--protocol paper`` also the paper's reported
  returns);
* ``margin_vs_k_continuous.png`` -- each run's margin over its best constant dispatcher
  (dots) and their mean with a 95% t-interval over seeds: the question whether a dispatcher
  that reads its sample beats one that ignores it;
* ``mode_accuracy_vs_k.png`` -- how often the dispatcher points at the population's mode, over
  the evaluation episodes and at the start (the paper's metric), with the uniform
  dispatcher's 1/5;
* ``runtime_vs_k_continuous.png``, ``zone_heatmap_continuous.png`` (robot occupancy of the
  five bins over one evaluation episode at the largest ``k``, seed 0, with the dispatcher's
  choice and the true mode), and ``summary.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from altmarl.experiments.plotting import band_plot, plt, write_csv
from altmarl.experiments.results import load_ok_rows, per_k, seed_stats, study_run_dir

#: The paper's Table for G.2 as reported (k -> return, initial-mode accuracy; nan: not given).
PAPER_TABLE: dict[int, tuple[float, float]] = {
    1: (127.7, 0.54),
    10: (136.3, float("nan")),
    75: (152.2, 0.81),
}


def mean_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided ``level`` t-interval of the mean of ``values`` (over seeds)."""
    m = float(values.mean())
    if values.size < 2:
        return m, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, values.size - 1) * values.std(ddof=1) / values.size**0.5
    return m, m - half, m + half


def continuous_figures(out: Path, study: Any) -> dict[str, Path]:
    """Write every figure, its CSV and ``summary.md`` from ``out/results.csv``."""
    out = Path(out)
    rows = load_ok_rows(out)
    if not rows:
        return {}
    written: dict[str, Path] = {}
    col = {name: per_k(rows, name) for name in rows[0] if name not in ("status", "error")}
    ks, v_mean, v_std, _, _, n_ok = seed_stats(col["value"])

    def mean_of(name: str) -> np.ndarray:
        return seed_stats(col[name])[1]

    def figure(name: str, header: list[str], table: list[Any], ylabel: str, draw: Any) -> None:
        write_csv(out / f"{name}.csv", header, table)
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        draw(ax)
        ax.set_xlabel("k (robots the dispatcher samples)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=120)
        plt.close(fig)
        written[name] = out / f"{name}.png"

    paper = study.protocol == "paper"
    c_mean, ud_mean, u_mean = (
        mean_of(n) for n in ("best_constant_value", "uniform_dispatcher_value", "baseline_value")
    )
    paper_ret = np.array([PAPER_TABLE.get(int(k), (np.nan, np.nan))[0] for k in ks])

    def reward(ax: Any) -> None:
        band_plot(ax, ks, v_mean, v_std, f"ALTERNATING-MARL ({study.local_algo.upper()})")
        ax.plot(ks, c_mean, "--", color="tab:green", label="best constant dispatcher")
        ax.plot(ks, ud_mean, "-.", color="tab:orange", label="uniform dispatcher")
        ax.plot(ks, u_mean, ":", color="gray", label="uniform dispatcher and robots")
        if paper:
            ax.plot(ks, paper_ret, "k*", ms=9, label="the paper's Table (authors' pairs)")

    figure(
        "reward_vs_k_continuous",
        [
            "k",
            "seeds",
            "value_mean",
            "value_std",
            "best_constant_mean",
            "uniform_dispatcher_mean",
            "uniform_random_mean",
            "paper_value",
        ],
        list(zip(ks, n_ok, v_mean, v_std, c_mean, ud_mean, u_mean, paper_ret, strict=True)),
        f"discounted return (horizon {_eval_horizon(study)})",
        reward,
    )
    margin = _margins(col, ks)
    written["margin_vs_k_continuous"] = _margin_figure(out, ks, col["margin"], margin, figure)
    _accuracy_figure(ks, n_ok, col, paper, figure)
    _, t_mean, t_std, *_ = seed_stats(col["train_seconds"])
    cpu_mean = mean_of("train_cpu_seconds")

    def runtime(ax: Any) -> None:
        band_plot(ax, ks, t_mean, t_std, f"wall ({study.alternations} alternations)")
        ax.plot(ks, cpu_mean, "--", label="processor time")

    figure(
        "runtime_vs_k_continuous",
        ["k", "seeds", "train_seconds_mean", "train_seconds_std", "train_cpu_seconds_mean"],
        list(zip(ks, n_ok, t_mean, t_std, cpu_mean, strict=True)),
        "training time per run (s)",
        runtime,
    )
    heat = _zone_heatmap(out, int(ks.max()), study)
    if heat is not None:
        written["zone_heatmap_continuous"] = heat
    written["summary"] = _summary(out, study, ks, n_ok, col, margin)
    return written


def _eval_horizon(study: Any) -> int:
    return 50 if study.protocol == "paper" else int(study.horizon)


def _margins(col: dict[str, dict[int, np.ndarray]], ks: np.ndarray) -> dict[str, np.ndarray]:
    """Per ``k``: the mean margin with its 95% t-interval over seeds, the runs above the
    best constant (margin > 0) and the runs whose own 95% interval lies above 0."""
    stats_ = [mean_interval(col["margin"][int(k)]) for k in ks]
    return {
        "mean": np.array([s[0] for s in stats_]),
        "low": np.array([s[1] for s in stats_]),
        "high": np.array([s[2] for s in stats_]),
        "above": np.array([int((col["margin"][int(k)] > 0).sum()) for k in ks]),
        "ci_above": np.array([int((col["margin_low"][int(k)] > 0).sum()) for k in ks]),
    }


def _margin_figure(
    out: Path,
    ks: np.ndarray,
    margins: dict[int, np.ndarray],
    m: dict[str, np.ndarray],
    figure: Callable[..., None],
) -> Path:
    def draw(ax: Any) -> None:
        for k in ks:
            vals = margins[int(k)]
            ax.plot(np.full(vals.size, k), vals, ".", color="tab:blue", alpha=0.4)
        ax.errorbar(
            ks,
            m["mean"],
            yerr=[m["mean"] - m["low"], m["high"] - m["mean"]],
            fmt="o-",
            color="tab:blue",
            capsize=4,
            label="mean over seeds, 95% interval (dots: runs)",
        )
        ax.axhline(0.0, color="tab:green", ls="--", label="best constant dispatcher")

    figure(
        "margin_vs_k_continuous",
        [
            "k",
            "margin_mean",
            "margin_ci_low",
            "margin_ci_high",
            "runs_above_constant",
            "runs_interval_above_0",
        ],
        list(zip(ks, m["mean"], m["low"], m["high"], m["above"], m["ci_above"], strict=True)),
        "return minus the best constant's (same robots, same episodes)",
        draw,
    )
    return out / "margin_vs_k_continuous.png"


def _accuracy_figure(
    ks: np.ndarray,
    n_ok: np.ndarray,
    col: dict[str, dict[int, np.ndarray]],
    paper: bool,
    figure: Callable[..., None],
) -> None:
    _, a_mean, a_std, *_ = seed_stats(col["mode_accuracy"])
    _, i_mean, i_std, *_ = seed_stats(col["initial_mode_accuracy"])
    _, ab_mean, *_ = seed_stats(col["baseline_mode_accuracy"])
    c_mean = _classifier_accuracy(ks, col)
    paper_acc = np.array([PAPER_TABLE.get(int(k), (np.nan, np.nan))[1] for k in ks])

    def draw(ax: Any) -> None:
        band_plot(ax, ks, a_mean, a_std, "over the evaluation episodes")
        band_plot(ax, ks, i_mean, i_std, "at the start (the paper's metric)")
        if np.isfinite(c_mean).any():
            ax.plot(ks, c_mean, "s--", color="tab:green", label="the mode classifier, at the start")
        ax.plot(ks, ab_mean, ls=":", color="gray", label="uniform dispatcher")
        if paper:
            ax.plot(ks, paper_acc, "k*", ms=9, label="the paper's Table")
        ax.set_ylim(0, 1.02)

    figure(
        "mode_accuracy_vs_k",
        [
            "k",
            "seeds",
            "accuracy_mean",
            "accuracy_std",
            "initial_accuracy_mean",
            "initial_accuracy_std",
            "uniform_accuracy",
            "classifier_initial_accuracy",
            "paper_initial_accuracy",
        ],
        list(zip(ks, n_ok, a_mean, a_std, i_mean, i_std, ab_mean, c_mean, paper_acc, strict=True)),
        "P(dispatcher's bin = population mode)",
        draw,
    )


def _classifier_accuracy(ks: np.ndarray, col: dict[str, dict[int, np.ndarray]]) -> np.ndarray:
    """Mean start accuracy of the mode classifiers the runs started from, per k (NaN where
    the runs started fresh, or for results written before the column existed)."""
    values = col.get("classifier_start_accuracy")
    if values is None:
        return np.full(len(ks), np.nan)
    return np.array([_nanmean(values[int(k)]) for k in ks])


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


def _summary(
    out: Path,
    study: Any,
    ks: np.ndarray,
    n_ok: np.ndarray,
    col: dict[str, dict[int, np.ndarray]],
    margin: dict[str, np.ndarray],
) -> Path:
    def mean(name: str, k: int) -> float:
        return float(col[name][k].mean())

    def spread(name: str, k: int) -> float:
        vals = col[name][k]
        return float(vals.std(ddof=1)) if vals.size > 1 else 0.0

    paper = study.protocol == "paper"
    classifier_acc = _classifier_accuracy(ks, col)
    classifier = bool(np.isfinite(classifier_acc).any())
    lines = [
        "# Continuous warehouse (Appendix G.2): ALTERNATING-MARL with TRPO",
        "",
        f"Protocol `{study.protocol}`: n = {study.n}, training horizon {study.horizon}, "
        f"evaluation horizon {_eval_horizon(study)}, gamma = {_gamma()}, "
        f"{study.alternations} alternations, local algorithm {study.local_algo}, dispatcher "
        f"start `{study.dispatcher_init}`, {study.rollouts} evaluation rollouts per seed, up "
        f"to {study.seeds} seeds per k.",
        "",
        "Reference dispatchers on the same episodes: the best constant dispatcher with the "
        "run's trained robots (chosen on held-out episodes), the uniform dispatcher with the "
        "same robots, and uniform dispatcher and robots. Margin: the run's return minus its "
        "best constant's, episode by episode; interval: 95% t-interval of the mean margin "
        "over seeds; runs above: margin > 0; runs sure: the run's own 95% interval of the "
        "margin lies above 0. Mode accuracy over the evaluation episodes, and at the start "
        "(the paper's metric: 1000 fresh starts). G gain: the largest paired gain of a global "
        "proposal over its incumbent on UPDATE's episodes (mean over runs)."
        + (
            " Classifier start acc: the paper's metric for the mode classifier each run "
            "started from (the dispatcher the authors train and report), on the same starts."
            if classifier
            else ""
        ),
        "",
        "| k | seeds | return | best constant | uniform dispatcher | uniform random | "
        "margin (mean ± std) | 95% interval | runs above | runs sure | mode acc | "
        "start acc | G gain | train s (cpu s) |"
        + (" classifier start acc |" if classifier else "")
        + (" paper return | paper start acc |" if paper else ""),
        "|---:" * (14 + (2 if paper else 0) + (1 if classifier else 0)) + "|",
    ]
    for i, k in enumerate(int(k) for k in ks):
        lines.append(
            f"| {k} | {int(n_ok[i])} | {mean('value', k):.1f} ± {spread('value', k):.1f} "
            f"| {mean('best_constant_value', k):.1f} | {mean('uniform_dispatcher_value', k):.1f} "
            f"| {mean('baseline_value', k):.1f} "
            f"| {mean('margin', k):+.1f} ± {spread('margin', k):.1f} "
            f"| [{margin['low'][i]:+.1f}, {margin['high'][i]:+.1f}] "
            f"| {int(margin['above'][i])}/{int(n_ok[i])} "
            f"| {int(margin['ci_above'][i])}/{int(n_ok[i])} "
            f"| {mean('mode_accuracy', k):.3f} | {mean('initial_mode_accuracy', k):.3f} "
            f"| {_nanmean(col['global_best_gain'][k]):+.1f} "
            f"| {mean('train_seconds', k):.1f} ({mean('train_cpu_seconds', k):.1f}) |"
            + (f" {classifier_acc[i]:.3f} |" if classifier else "")
            + (f" {_reported(k, 0, '.1f')} | {_reported(k, 1, '.2f')} |" if paper else "")
        )
    path = out / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _reported(k: int, column: int, spec: str) -> str:
    """The paper's reported number at ``k`` (column 0: return, 1: start accuracy); an
    em dash where the paper gives none."""
    value = PAPER_TABLE.get(k, (math.nan, math.nan))[column]
    return "—" if math.isnan(value) else format(value, spec)


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _gamma() -> float:
    """The scenario's discount (the study runs the continuous warehouse's default)."""
    from altmarl.continuous.env import ContinuousWarehouse

    return ContinuousWarehouse().gamma
