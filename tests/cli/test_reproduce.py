"""``altmarl reproduce`` (warehouse and the other tabular scenarios): the quick study end to
end, Ray, resume, bad input, and no worker outliving a killed study."""

from __future__ import annotations

import csv
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from altmarl.experiments.sweep import read_results
from altmarl.experiments.warehouse import WarehouseStudy
from altmarl.scenarios import get_scenario, scenario_labels
from experiments_helpers import _rows


@pytest.mark.slow
def test_quick_study_end_to_end(tmp_path, cli_json):
    out = tmp_path / "quick"
    res = cli_json("reproduce", "warehouse", "--quick", "--out", str(out), "--workers", "2")
    expected = {
        "results.csv",
        "study.json",
        "summary.md",
        "reward_vs_k.png",
        "reward_vs_k.csv",
        "runtime_vs_k.png",
        "runtime_vs_k.csv",
        "zone_heatmap.png",
        "zone_heatmap.csv",
        "mode_mismatch_vs_k.png",
        "mode_mismatch_vs_k.csv",
        "nash_gap_vs_k.png",
        "nash_gap_vs_k.csv",
    }
    assert expected <= set(res["files"])
    rows = read_results(out / "results.csv")
    quick = WarehouseStudy.quick()
    assert len(rows) == len(quick.k_values) * quick.seeds
    assert all(r["status"] == "ok" for r in rows)
    for r in rows:
        for field in ("value", "uniform_value", "best_constant_value", "mode_mismatch"):
            assert math.isfinite(float(r[field]))
    with (out / "reward_vs_k.csv").open() as fh:
        table = list(csv.DictReader(fh))
    ks = [float(t["k"]) for t in table]
    means = [float(t["value_mean"]) for t in table]
    assert ks == [float(k) for k in quick.k_values]
    # Regressions: seeded outcomes of the quick protocol (2 seeds, 30 rollouts), not
    # guarantees. They flag a change in what the study shows: the reward rising with k,
    # the trained pair within the seed-to-seed spread (about 1) of the held-out best
    # constant dispatcher (a mean of two seeds) and above it at the largest k, and far above
    # the uniform one (observed margins are tens of units). UPDATE's sequential test
    # (issue #12) changed the random streams: k = 6 went from above to 0.5 below the constant.
    assert means[-1] > means[0]
    assert np.polyfit(ks, means, 1)[0] > 0
    for t in table:
        assert float(t["value_mean"]) >= float(t["best_constant_mean"]) - 1.0
        assert float(t["value_mean"]) > float(t["uniform_mean"]) + 10
    assert float(table[-1]["value_mean"]) > float(table[-1]["best_constant_mean"])
    # every job measured both players' best deviations; the fit of summary.md is the one of
    # nash_gap_vs_k.csv's C / sqrt(k) column
    for r in rows:
        for player in ("global", "local"):
            lo, gain, hi = (float(r[f"{player}_gain{x}"]) for x in ("_lo", "", "_hi"))
            assert lo <= gain <= hi and r[f"{player}_deviation"]
    with (out / "nash_gap_vs_k.csv").open() as fh:
        gap = list(csv.DictReader(fh))
    C = float(gap[0]["fit_C_over_sqrt_k"]) * math.sqrt(float(gap[0]["k"]))
    assert f"C = {C:.4g}" in (out / "summary.md").read_text()
    for k in quick.k_values:
        for seed in range(quick.seeds):
            assert (out / "policies" / f"k{k}_seed{seed}" / "policy.npz").is_file()
    # summary.md has one table row per k, consistent with results.csv and reward_vs_k.csv
    rows_md = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in (out / "summary.md").read_text().splitlines()
        if line.startswith("| ") and line[2].isdigit()
    ]
    assert [int(r[0]) for r in rows_md] == list(quick.k_values)
    for r, t in zip(rows_md, table, strict=True):
        assert int(r[1]) == quick.seeds
        assert r[2].split(" ± ")[0] == f"{float(t['value_mean']):.2f}"


@pytest.mark.slow
def test_reproduce_warehouse_cli_on_ray_gives_the_local_records(tmp_path, cli_json, monkeypatch):
    """`reproduce warehouse --backend ray` runs its jobs as Ray tasks (the Ray runner is
    watched) and writes the same records as the local backend."""
    pytest.importorskip("ray")
    from altmarl.experiments import sweep

    ray_batches = []
    run_ray = sweep._run_ray

    def watched(jobs, *args):
        ray_batches.append(len(jobs))
        yield from run_ray(jobs, *args)

    monkeypatch.setattr(sweep, "_run_ray", watched)
    tiny = ["--k-values", "1,2", "--seeds", "1", "--rollouts", "3", "--horizon", "10",
            "--n", "30", "--alternations", "1", "--workers", "2"]  # fmt: skip
    for backend in ("local", "ray"):
        out = cli_json(
            "reproduce", "warehouse", *tiny, "--backend", backend, "--out", str(tmp_path / backend)
        )
        assert out["finished"] == out["jobs"] == 2
    assert ray_batches == [2]  # the local run never touched Ray; the Ray run ran both jobs
    rows = {b: _rows(tmp_path / b / "results.csv") for b in ("local", "ray")}
    assert len(rows["ray"]) == 2 and rows["ray"] == rows["local"]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--k-values", "0-3"], "argument --k-values"),
        (["--backend", "spark"], "argument --backend"),
        (["--ray-address", "10.0.0.1:6379"], "--ray-address needs --backend ray"),
        (["--k-values", "2000", "--seeds", "1"], "--k-values must lie in [1, --n 1000]"),
    ],
)
def test_reproduce_bad_input_exits_2(tmp_path, cli, argv, needle):
    code, _, err = cli("reproduce", "warehouse", "--out", str(tmp_path / "x"), *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_existing_study_needs_resume(tmp_path, cli):
    args = [
        "reproduce",
        "warehouse",
        "--out",
        str(tmp_path),
        "--k-values",
        "1",
        "--seeds",
        "1",
        "--rollouts",
        "3",
        "--horizon",
        "10",
        "--alternations",
        "1",
        "--workers",
        "1",
    ]
    assert cli(*args)[0] == 0
    code, _, err = cli(*args)
    assert code == 2 and "--resume" in err
    assert cli(*args, "--resume")[0] == 0
    changed = list(args)
    changed[changed.index("--seeds") + 1] = "2"
    code, _, err = cli(*changed, "--resume")
    assert code == 2 and "different protocol (seeds)" in err


NEW = ("federated", "grid")


@pytest.mark.parametrize("name", NEW)
def test_reproduce_runs_the_warehouse_study_on_a_new_scenario(name, tmp_path, cli_json):
    out = tmp_path / "study"
    res = cli_json(
        "reproduce", name, "--k-values", "1,3", "--seeds", "1", "--rollouts", "5",
        "--horizon", "20", "--n", "60", "--alternations", "1", "--workers", "1",
        "--out", str(out),
    )  # fmt: skip
    assert res["finished"] == 2
    assert {"results.csv", "reward_vs_k.png", "zone_heatmap.png", "summary.md"} <= set(res["files"])
    # a regime/mode is not a local state: no mode-mismatch figure for these scenarios
    assert "mode_mismatch_vs_k.png" not in res["files"]
    import json

    from altmarl.policy_dir import load_policy_dir

    assert json.loads((out / "study.json").read_text())["scenario"] == name
    # the saved pair belongs to this scenario's game (the fingerprint is checked on load)
    pair = load_policy_dir(out / "policies" / "k3_seed0", get_scenario(name))
    assert pair.global_policy.table.shape == (3, {"federated": 20, "grid": 20}[name])
    summary = (out / "summary.md").read_text()
    assert summary.startswith(f"# {name.capitalize()} study")
    assert scenario_labels(get_scenario(name)).local_agents in summary


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_reproduce_leaves_no_worker_behind(tmp_path, subprocess_env):
    cmd = [sys.executable, "-m", "altmarl", "reproduce", "warehouse", "--k-values", "1-3"]
    cmd += ["--seeds", "2", "--rollouts", "3", "--horizon", "10", "--alternations", "2"]
    cmd += ["--workers", "2", "--out", str(tmp_path / "study")]
    proc = subprocess.Popen(cmd, env=subprocess_env, start_new_session=True)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2:  # the pool's two workers (and the resource tracker)
            assert proc.poll() is None and time.monotonic() < deadline
            workers = {p for p in _children(proc.pid) if b"spawn_main" in _cmdline(p)}
            time.sleep(0.05)
        time.sleep(1.0)  # let them start their jobs
        everyone = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in everyone) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert workers <= everyone
        assert not [p for p in everyone if _alive(p)], "orphaned processes"
    finally:
        with contextlib_suppress():
            os.killpg(proc.pid, signal.SIGKILL)  # only on failure: the test's own group


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def contextlib_suppress():
    import contextlib

    return contextlib.suppress(ProcessLookupError, PermissionError)
