"""Figures of the warehouse study (SPEC §7 G.1), each with the CSV behind it.

reward_vs_k.png, runtime_vs_k.png, mode_mismatch_vs_k.png, zone_heatmap.png and
summary.md, written into the study directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from altmarl.experiments.plotting import band_plot, plt, save_figure, write_csv
from altmarl.experiments.results import load_ok_rows, per_k, policy_dir, seed_stats
from altmarl.experiments.sweep import read_results
from altmarl.policy_dir import load_policy_dir
from altmarl.scenarios import warehouse
from altmarl.simulate import evaluate


def warehouse_figures(out: Path, study: Any) -> dict[str, Path]:
    """Write every figure and table of the warehouse study from ``out/results.csv``."""
    out = Path(out)
    rows = load_ok_rows(out)
    if not rows:
        return {}
    st = _reward_stats(rows)
    written: dict[str, Path] = {}
    written["reward_vs_k"] = _reward_figure(out, study, st)
    written["runtime_vs_k"], t_mean = _runtime_figure(out, rows)
    written["mode_mismatch_vs_k"], m_mean = _mode_mismatch_figure(out, rows)
    written["zone_heatmap"] = _zone_heatmap(out, study, [int(k) for k in st.ks])
    written["summary"] = _summary(
        out,
        study,
        rows,
        st.ks,
        st.v_mean,
        st.v_std,
        st.u_mean,
        st.c_mean,
        (st.d_mean, st.d_std, st.d_wins),
        m_mean,
        t_mean,
        st.n_ok,
    )
    return written


@dataclass(frozen=True, eq=False)
class _RewardStats:
    """Per-``k`` statistics over seeds of the finished runs; every array is ``[K]``, ``ks``
    ascending. ``d_*``: each run's margin over its best constant dispatcher."""

    ks: np.ndarray
    n_ok: np.ndarray
    v_mean: np.ndarray
    v_std: np.ndarray
    v_lo: np.ndarray
    v_hi: np.ndarray
    u_mean: np.ndarray
    c_mean: np.ndarray
    d_mean: np.ndarray
    d_std: np.ndarray
    d_wins: np.ndarray


def _reward_stats(rows: list[dict[str, Any]]) -> _RewardStats:
    """Value, baselines and margin over the best constant dispatcher, per ``k``."""
    values, constants = per_k(rows, "value"), per_k(rows, "best_constant_value")
    ks, v_mean, v_std, v_lo, v_hi, n_ok = seed_stats(values)
    _, u_mean, *_ = seed_stats(per_k(rows, "uniform_value"))
    _, c_mean, *_ = seed_stats(constants)
    # per-run margin over the best constant dispatcher (same local policy, same rollouts)
    margins = {k: v - constants[k] for k, v in values.items()}
    _, d_mean, d_std, *_ = seed_stats(margins)
    d_wins = np.array([int((margins[k] > 0).sum()) for k in ks])
    return _RewardStats(ks, n_ok, v_mean, v_std, v_lo, v_hi, u_mean, c_mean, d_mean, d_std, d_wins)


def _reward_figure(out: Path, study: Any, st: _RewardStats) -> Path:
    """reward_vs_k.csv and .png: value vs ``k`` against the two dispatcher baselines."""
    write_csv(
        out / "reward_vs_k.csv",
        [
            "k",
            "seeds",
            "value_mean",
            "value_std",
            "value_min",
            "value_max",
            "uniform_mean",
            "best_constant_mean",
            "margin_over_constant_mean",
            "margin_over_constant_std",
            "runs_above_constant",
        ],
        list(
            zip(
                st.ks,
                st.n_ok,
                st.v_mean,
                st.v_std,
                st.v_lo,
                st.v_hi,
                st.u_mean,
                st.c_mean,
                st.d_mean,
                st.d_std,
                st.d_wins,
                strict=True,
            )
        ),
    )
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    band_plot(ax, st.ks, st.v_mean, st.v_std, "ALTERNATING-MARL (mean ± std over seeds)")
    ax.plot(st.ks, st.c_mean, "--", color="tab:green", label="best constant dispatcher")
    ax.plot(st.ks, st.u_mean, ":", color="tab:red", label="uniform-random dispatcher")
    ax.set(
        xlabel="k (sampled robots)",
        ylabel="cumulative discounted reward",
        title=f"Warehouse, n = {study.n}",
    )
    ax.legend(fontsize=8)
    return save_figure(fig, out / "reward_vs_k.png")


def _runtime_figure(out: Path, rows: list[dict[str, Any]]) -> tuple[Path, np.ndarray]:
    """runtime_vs_k.csv and .png; returns the figure's path and the mean seconds ``[K]``."""
    ks_t, t_mean, t_std, *_ = seed_stats(per_k(rows, "train_seconds"))
    write_csv(
        out / "runtime_vs_k.csv",
        ["k", "train_seconds_mean", "train_seconds_std"],
        list(zip(ks_t, t_mean, t_std, strict=True)),
    )
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    band_plot(ax, ks_t, t_mean, t_std, "training run (mean ± std)")
    ax.set(xlabel="k", ylabel="seconds", title="Learning runtime vs k")
    return save_figure(fig, out / "runtime_vs_k.png"), t_mean


def _mode_mismatch_figure(out: Path, rows: list[dict[str, Any]]) -> tuple[Path, np.ndarray]:
    """mode_mismatch_vs_k.csv and .png: how often the dispatcher's ``a_g`` is not the true
    population mode; returns the figure's path and the mean rate ``[K]``."""
    ks_m, m_mean, m_std, *_ = seed_stats(per_k(rows, "mode_mismatch"))
    write_csv(
        out / "mode_mismatch_vs_k.csv",
        ["k", "mismatch_mean", "mismatch_std"],
        list(zip(ks_m, m_mean, m_std, strict=True)),
    )
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    band_plot(ax, ks_m, m_mean, m_std, "P(a_g != population mode)")
    ax.set(
        xlabel="k",
        ylabel="mismatch rate",
        ylim=(0, 1),
        title="Dispatcher's action vs the true mode",
    )
    return save_figure(fig, out / "mode_mismatch_vs_k.png"), m_mean


def _zone_heatmap(out: Path, study: Any, ks: list[int]) -> Path:
    game = warehouse()
    picks = sorted({ks[0], ks[len(ks) // 2], ks[-1]})
    picks = [k for k in picks if (policy_dir(out, k, 0) / "policy.npz").is_file()]
    fig, axes = plt.subplots(len(picks), 1, figsize=(7.5, 2.3 * max(1, len(picks))), squeeze=False)
    rows = []
    for ax, k in zip(axes[:, 0], picks, strict=False):
        pair = load_policy_dir(policy_dir(out, k, 0), game)
        rec = evaluate(
            game,
            pair.global_policy,
            pair.local_policy,
            n=study.n,
            k=k,
            rollouts=1,
            horizon=study.horizon,
            seed=0,
            record=True,
        )
        assert rec.occupancy is not None and rec.global_actions is not None
        assert rec.population_mode is not None
        occ = rec.occupancy[0]  # [H, zones]
        t = np.arange(occ.shape[0])
        im = ax.imshow(
            occ.T,
            aspect="auto",
            origin="lower",
            cmap="viridis",
            vmin=0,
            vmax=1,
            extent=(-0.5, occ.shape[0] - 0.5, -0.5, game.num_sl - 0.5),
        )
        ax.plot(t, rec.global_actions[0], ".", color="white", ms=3, label="dispatcher a_g")
        ax.step(t, rec.population_mode[0], where="mid", color="tab:red", lw=1, label="true mode")
        ax.set(ylabel=f"zone (k={k})")
        for ti in t:
            for z in range(game.num_sl):
                rows.append(
                    (
                        k,
                        int(ti),
                        z,
                        float(occ[ti, z]),
                        int(rec.global_actions[0, ti]),
                        int(rec.population_mode[0, ti]),
                    )
                )
        fig.colorbar(im, ax=ax, label="fraction of robots")
    if picks:
        axes[0, 0].legend(fontsize=7, loc="upper right")
        axes[-1, 0].set_xlabel("time step")
    fig.suptitle("Zone occupancy over one episode (seed 0)")
    write_csv(
        out / "zone_heatmap.csv",
        ["k", "t", "zone", "fraction", "dispatcher_action", "true_mode"],
        rows,
    )
    return save_figure(fig, out / "zone_heatmap.png")


def _summary(
    out, study, rows, ks, v_mean, v_std, u_mean, c_mean, margin, m_mean, t_mean, n_ok
) -> Path:
    failed = 0
    all_rows = read_results(out / "results.csv")
    ok_keys = {(int(r["k"]), int(r["seed"])) for r in rows}
    failed = len(
        {(r["k"], r["seed"]) for r in all_rows if r["status"] == "failed"}
        - {(str(k), str(s)) for k, s in ok_keys}
    )
    lines = [
        "# Warehouse study (SPEC §7 G.1)",
        "",
        f"n = {study.n}, seeds = {study.seeds}, rollouts = {study.rollouts}, horizon = "
        f"{study.horizon}, alternations = {study.alternations}, m = {study.m}, order = "
        f"{'-'.join(study.order)}, eps_tol = {study.eps_tol}, local oracle = "
        f"{study.local_oracle}, global step = {study.global_candidates}, G-LEARN tol = "
        f"{study.tol}.",
        f"Finished jobs: {len(rows)}; failed: {failed}.",
        "",
        "Margin: each run's value minus its best constant dispatcher's (same trained "
        "robots, same rollouts); runs above: how many runs have a positive margin.",
        "",
        "| k | seeds | value (mean ± std) | best constant | uniform | margin (mean ± std) | "
        "runs above constant | mode mismatch | train s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    d_mean, d_std, d_wins = margin
    for i, k in enumerate(ks):
        lines.append(
            f"| {int(k)} | {int(n_ok[i])} | {v_mean[i]:.2f} ± {v_std[i]:.2f} | {c_mean[i]:.2f} | "
            f"{u_mean[i]:.2f} | {d_mean[i]:+.2f} ± {d_std[i]:.2f} | {int(d_wins[i])}/"
            f"{int(n_ok[i])} | {m_mean[i]:.3f} | {t_mean[i]:.1f} |"
        )
    path = out / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path
