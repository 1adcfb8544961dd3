"""Figures of the warehouse study (SPEC §7 G.1), each with the CSV behind it.

reward_vs_k.png, runtime_vs_k.png, mode_mismatch_vs_k.png, zone_heatmap.png,
nash_gap_vs_k.png (when the jobs measured exploit gains) and summary.md, written into the
study directory. The same figures serve the study on any built-in tabular scenario
(``study.scenario``), labelled with its names; the mode-mismatch figure only where a global
action names a local state (the warehouse's zones).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import t as scipy_t

from altmarl.experiments.plotting import band_plot, plt, save_figure, write_csv
from altmarl.experiments.results import load_ok_rows, per_k, policy_dir, seed_stats
from altmarl.experiments.sweep import read_results
from altmarl.policy_dir import load_policy_dir
from altmarl.scenarios import get_scenario, scenario_labels
from altmarl.scenarios.labels import Labels
from altmarl.simulate import evaluate


def warehouse_figures(out: Path, study: Any) -> dict[str, Path]:
    """Write every figure and table of the warehouse study from ``out/results.csv``."""
    out = Path(out)
    rows = load_ok_rows(out)
    if not rows:
        return {}
    labels = _labels(study)
    st = _reward_stats(rows)
    written: dict[str, Path] = {}
    written["reward_vs_k"] = _reward_figure(out, study, st)
    written["runtime_vs_k"], t_mean = _runtime_figure(out, rows)
    m_mean = seed_stats(per_k(rows, "mode_mismatch"))[1]
    if labels.action_is_state:  # elsewhere a_g names no local state: no "mode" to match
        written["mode_mismatch_vs_k"], m_mean = _mode_mismatch_figure(out, rows)
    written["zone_heatmap"] = _zone_heatmap(out, study, [int(k) for k in st.ks])
    gap = _nash_gap_figure(out, rows)
    if gap is not None:
        written["nash_gap_vs_k"] = gap[0]
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
        None if gap is None else gap[1],
    )
    return written


def _scenario(study: Any) -> str:
    return str(getattr(study, "scenario", "warehouse"))


def _labels(study: Any) -> Labels:
    return scenario_labels(get_scenario(_scenario(study)))


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
    labels = _labels(study)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    band_plot(ax, st.ks, st.v_mean, st.v_std, "ALTERNATING-MARL (mean ± std over seeds)")
    agent = labels.global_agent
    ax.plot(st.ks, st.c_mean, "--", color="tab:green", label=f"best constant {agent}")
    ax.plot(st.ks, st.u_mean, ":", color="tab:red", label=f"uniform-random {agent}")
    ax.set(
        xlabel=f"k (sampled {labels.local_agents})",
        ylabel="cumulative discounted reward",
        title=f"{_scenario(study).capitalize()}, n = {study.n}",
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
    game = get_scenario(_scenario(study))
    labels = scenario_labels(game)
    picks = sorted({ks[0], ks[len(ks) // 2], ks[-1]})
    picks = [k for k in picks if (policy_dir(out, k, 0) / "policy.npz").is_file()]
    width = 7.5 if labels.action_is_state else 8.5
    fig, axes = plt.subplots(
        len(picks), 1, figsize=(width, 2.3 * max(1, len(picks))), squeeze=False
    )
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
        pad = 0.05 if labels.action_is_state else 0.14  # room for the a_g axis
        fig.colorbar(im, ax=ax, label=f"fraction of {labels.local_agents}", pad=pad)
        _draw_actions(ax, t, rec.global_actions[0], game.num_ag, labels)
        ax.step(t, rec.population_mode[0], where="mid", color="tab:red", lw=1, label="true mode")
        if labels.action_is_state:
            ax.set(ylabel=f"zone (k={k})")
        else:
            ax.set(ylabel=f"k={k}", yticks=range(game.num_sl))
            ax.set_yticklabels(labels.local_states, fontsize=7)
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
    if picks:
        axes[0, 0].legend(fontsize=7, loc="upper right")
        axes[-1, 0].set_xlabel("time step")
    what = "Zone" if labels.action_is_state else "Local-state"
    fig.suptitle(f"{what} occupancy over one episode (seed 0)")
    write_csv(
        out / "zone_heatmap.csv",
        ["k", "t", "zone", "fraction", "dispatcher_action", "true_mode"],
        rows,
    )
    return save_figure(fig, out / "zone_heatmap.png")


def _draw_actions(ax: Any, t: np.ndarray, actions: np.ndarray, num_ag: int, labels: Labels) -> None:
    """``a_g(t)`` over a heat map: dots on the zone axis where an action names a zone, a line
    on an axis of its own (the actions' names) otherwise."""
    if labels.action_is_state:
        ax.plot(t, actions, ".", color="white", ms=3, label="dispatcher a_g")
        return
    twin = ax.twinx()
    twin.step(t, actions, where="mid", color="white", lw=1.0)
    twin.set(ylim=(-0.5, num_ag - 0.5), yticks=range(num_ag))
    twin.set_yticklabels(labels.global_actions, fontsize=7)
    ax.plot([], [], color="white", lw=1.2, label=f"{labels.global_agent} a_g (right)")


def fit_inverse_sqrt(ks: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Least-squares ``C`` of ``values ~ C / sqrt(k)`` (Theorem 4.8's rate) and the fit's
    ``R^2`` against the mean (``nan`` with fewer than two ``k``)."""
    x = 1.0 / np.sqrt(np.asarray(ks, dtype=float))
    y = np.asarray(values, dtype=float)
    C = float((x * y).sum() / (x * x).sum())
    resid = ((y - C * x) ** 2).sum()
    total = ((y - y.mean()) ** 2).sum()
    r2 = float(1.0 - resid / total) if y.size > 1 and total > 0 else float("nan")
    return C, r2


def _nash_gap_figure(out: Path, rows: list[dict[str, Any]]) -> tuple[Path, dict[str, Any]] | None:
    """nash_gap_vs_k.csv and .png: each player's estimated gain (the best deviation found
    against the trained pair, a lower bound on its gap) against ``k``, mean over seeds with
    a 95% interval of that mean, beside the fitted ``C / sqrt(k)`` of the per-run Nash gap
    estimate ``max(global gain, local gain, 0)``. Returns the path and the fit."""
    rows = [r for r in rows if np.isfinite(r.get("global_gain", np.nan))]
    if not rows:
        return None
    for r in rows:
        r["nash_gap"] = max(r["global_gain"], r["local_gain"], 0.0)
    table = []
    stats_by = {}
    for field in ("global_gain", "local_gain", "nash_gap"):
        ks, mean, std, _, _, count = seed_stats(per_k(rows, field))
        half = np.array(
            [
                float(scipy_t.ppf(0.975, c - 1)) * s / np.sqrt(c) if c > 1 else 0.0
                for s, c in zip(std, count, strict=True)
            ]
        )
        stats_by[field] = (mean, half)
    lo_g = seed_stats(per_k(rows, "global_gain_lo"))[1]
    hi_g = seed_stats(per_k(rows, "global_gain_hi"))[1]
    lo_l = seed_stats(per_k(rows, "local_gain_lo"))[1]
    hi_l = seed_stats(per_k(rows, "local_gain_hi"))[1]
    C, r2 = fit_inverse_sqrt(ks, stats_by["nash_gap"][0])
    for i, k in enumerate(ks):
        table.append(
            (
                int(k),
                int(count[i]),
                stats_by["global_gain"][0][i],
                stats_by["global_gain"][1][i],
                lo_g[i],
                hi_g[i],
                stats_by["local_gain"][0][i],
                stats_by["local_gain"][1][i],
                lo_l[i],
                hi_l[i],
                stats_by["nash_gap"][0][i],
                C / np.sqrt(k),
            )
        )
    write_csv(
        out / "nash_gap_vs_k.csv",
        [
            "k",
            "seeds",
            "global_gain_mean",
            "global_gain_ci95",
            "global_gain_lo_mean",
            "global_gain_hi_mean",
            "local_gain_mean",
            "local_gain_ci95",
            "local_gain_lo_mean",
            "local_gain_hi_mean",
            "nash_gap_mean",
            "fit_C_over_sqrt_k",
        ],
        table,
    )
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for field, label, color in (
        ("global_gain", "global: best deviation found", "tab:blue"),
        ("local_gain", "local: best deviation found", "tab:orange"),
    ):
        mean, half = stats_by[field]
        ax.errorbar(ks, mean, yerr=half, fmt="o", ms=3, capsize=2, label=label, color=color)
    grid = np.linspace(ks.min(), ks.max(), 200)
    ax.plot(grid, C / np.sqrt(grid), "k--", lw=1, label=f"fit {C:.3g} / sqrt(k) (R² {r2:.2f})")
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set(
        xlabel="k (sampled robots)",
        ylabel="gain over the trained pair",
        title="Estimated Nash gap (lower bounds; mean ± 95% CI over seeds)",
    )
    ax.legend(fontsize=8)
    fit = {"C": C, "r2": r2, "ks": ks, "gap": stats_by["nash_gap"][0]}
    return save_figure(fig, out / "nash_gap_vs_k.png"), fit


def _summary(
    out, study, rows, ks, v_mean, v_std, u_mean, c_mean, margin, m_mean, t_mean, n_ok, gap_fit=None
) -> Path:
    failed = 0
    all_rows = read_results(out / "results.csv")
    ok_keys = {(int(r["k"]), int(r["seed"])) for r in rows}
    failed = len(
        {(r["k"], r["seed"]) for r in all_rows if r["status"] == "failed"}
        - {(str(k), str(s)) for k, s in ok_keys}
    )
    labels = _labels(study)
    mismatch = labels.action_is_state  # the column means something only there
    title = {"warehouse": "Warehouse study (SPEC §7 G.1)"}.get(
        _scenario(study), f"{_scenario(study).capitalize()} study (the warehouse study's protocol)"
    )
    lines = [
        f"# {title}",
        "",
        f"n = {study.n}, seeds = {study.seeds}, rollouts = {study.rollouts}, horizon = "
        f"{study.horizon}, alternations = {study.alternations}, m = {study.m}, order = "
        f"{'-'.join(study.order)}, eps_tol = {study.eps_tol}, local oracle = "
        f"{study.local_oracle}, global step = {study.global_candidates}, G-LEARN tol = "
        f"{study.tol}.",
        f"Finished jobs: {len(rows)}; failed: {failed}.",
        "",
        f"Margin: each run's value minus its best constant {labels.global_agent}'s (same "
        f"trained {labels.local_agents}, same rollouts); runs above: how many runs have a "
        "positive margin.",
        "",
        "| k | seeds | value (mean ± std) | best constant | uniform | margin (mean ± std) | "
        f"runs above constant |{' mode mismatch |' if mismatch else ''} train s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if mismatch else ""),
    ]
    d_mean, d_std, d_wins = margin
    for i, k in enumerate(ks):
        lines.append(
            f"| {int(k)} | {int(n_ok[i])} | {v_mean[i]:.2f} ± {v_std[i]:.2f} | {c_mean[i]:.2f} | "
            f"{u_mean[i]:.2f} | {d_mean[i]:+.2f} ± {d_std[i]:.2f} | {int(d_wins[i])}/"
            f"{int(n_ok[i])} |{f' {m_mean[i]:.3f} |' if mismatch else ''} {t_mean[i]:.1f} |"
        )
    if gap_fit is not None:
        lines += [
            "",
            "## Nash gap against k (nash_gap_vs_k.png)",
            "",
            "Each trained pair's best deviation found for each player (`altmarl exploit`: "
            "G-LEARN answers at budgets k' >= k, their conservative versions, the constant "
            "dispatchers; the mean-field L-LEARN answer and its projection), measured on the "
            "n-agent system: lower bounds on the gaps. Per run the gap estimate is "
            "max(global gain, local gain, 0).",
            "",
            f"Fitted gap(k) = C / sqrt(k) with C = {gap_fit['C']:.4g} "
            f"(least squares over k = {int(gap_fit['ks'][0])}..{int(gap_fit['ks'][-1])}; "
            f"R² = {gap_fit['r2']:.3f} against the mean).",
        ]
    path = out / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path
