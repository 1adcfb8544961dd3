"""Figures of the warehouse study (SPEC §7 G.1), each with the CSV behind it.

reward_vs_k.png, runtime_vs_k.png, mode_mismatch_vs_k.png, zone_heatmap.png and
summary.md, written into the study directory. The same figures serve the study on any
built-in tabular scenario (``study.scenario``), labelled with its names; the mode-mismatch
figure only where a global action names a local state (the warehouse's zones).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from altmarl.experiments.plotting import band_plot, plt, save_figure, write_csv
from altmarl.experiments.results import load_ok_rows, per_k, policy_dir, seed_stats
from altmarl.experiments.sweep import read_results
from altmarl.policy_dir import load_policy_dir
from altmarl.scenarios import get_scenario, scenario_labels
from altmarl.simulate import evaluate


def warehouse_figures(out: Path, study: Any) -> dict[str, Path]:
    """Write every figure and table of the warehouse study from ``out/results.csv``."""
    out = Path(out)
    scenario = getattr(study, "scenario", "warehouse")
    labels = scenario_labels(get_scenario(scenario))
    rows = load_ok_rows(out)
    if not rows:
        return {}
    written: dict[str, Path] = {}
    values, constants = per_k(rows, "value"), per_k(rows, "best_constant_value")
    ks, v_mean, v_std, v_lo, v_hi, n_ok = seed_stats(values)
    _, u_mean, *_ = seed_stats(per_k(rows, "uniform_value"))
    _, c_mean, *_ = seed_stats(constants)
    # per-run margin over the best constant dispatcher (same local policy, same rollouts)
    margins = {k: v - constants[k] for k, v in values.items()}
    _, d_mean, d_std, *_ = seed_stats(margins)
    d_wins = np.array([int((margins[k] > 0).sum()) for k in ks])
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
                ks,
                n_ok,
                v_mean,
                v_std,
                v_lo,
                v_hi,
                u_mean,
                c_mean,
                d_mean,
                d_std,
                d_wins,
                strict=True,
            )
        ),
    )
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    band_plot(ax, ks, v_mean, v_std, "ALTERNATING-MARL (mean ± std over seeds)")
    agent = labels.global_agent
    ax.plot(ks, c_mean, "--", color="tab:green", label=f"best constant {agent}")
    ax.plot(ks, u_mean, ":", color="tab:red", label=f"uniform-random {agent}")
    ax.set(
        xlabel=f"k (sampled {labels.local_agents})",
        ylabel="cumulative discounted reward",
        title=f"{scenario.capitalize()}, n = {study.n}",
    )
    ax.legend(fontsize=8)
    written["reward_vs_k"] = save_figure(fig, out / "reward_vs_k.png")

    ks_t, t_mean, t_std, *_ = seed_stats(per_k(rows, "train_seconds"))
    write_csv(
        out / "runtime_vs_k.csv",
        ["k", "train_seconds_mean", "train_seconds_std"],
        list(zip(ks_t, t_mean, t_std, strict=True)),
    )
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    band_plot(ax, ks_t, t_mean, t_std, "training run (mean ± std)")
    ax.set(xlabel="k", ylabel="seconds", title="Learning runtime vs k")
    written["runtime_vs_k"] = save_figure(fig, out / "runtime_vs_k.png")

    ks_m, m_mean, m_std, *_ = seed_stats(per_k(rows, "mode_mismatch"))
    if labels.action_is_state:
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
        written["mode_mismatch_vs_k"] = save_figure(fig, out / "mode_mismatch_vs_k.png")

    written["zone_heatmap"] = _zone_heatmap(out, study, [int(k) for k in ks])
    written["summary"] = _summary(
        out,
        study,
        rows,
        ks,
        v_mean,
        v_std,
        u_mean,
        c_mean,
        (d_mean, d_std, d_wins),
        m_mean,
        t_mean,
        n_ok,
    )
    return written


def _zone_heatmap(out: Path, study: Any, ks: list[int]) -> Path:
    game = get_scenario(getattr(study, "scenario", "warehouse"))
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
        if labels.action_is_state:
            ax.plot(t, rec.global_actions[0], ".", color="white", ms=3, label="dispatcher a_g")
        else:
            # a_g names no local state: draw it on its own axis, with its names
            twin = ax.twinx()
            twin.step(t, rec.global_actions[0], where="mid", color="white", lw=1.0)
            twin.set(ylim=(-0.5, game.num_ag - 0.5), yticks=range(game.num_ag))
            twin.set_yticklabels(labels.global_actions, fontsize=7)
            ax.plot([], [], color="white", lw=1.2, label=f"{labels.global_agent} a_g (right)")
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
    scenario = getattr(study, "scenario", "warehouse")
    labels = scenario_labels(get_scenario(scenario))
    mismatch = labels.action_is_state  # the column means something only there
    title = {"warehouse": "Warehouse study (SPEC §7 G.1)"}.get(
        scenario, f"{scenario.capitalize()} study (the warehouse study's protocol)"
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
    path = out / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path
