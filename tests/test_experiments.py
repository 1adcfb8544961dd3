"""The warehouse study: sweep runner (local pool and Ray), resume, retries, figures."""

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

from altmarl.cli._sweep import k_values
from altmarl.errors import AltmarlError
from altmarl.experiments.sweep import Job, read_results, run_sweep
from altmarl.experiments.warehouse import FIELDNAMES, WarehouseStudy, warehouse_job

TIMING = {"job_seconds", "train_seconds", "exploit_seconds"}
TINY = WarehouseStudy(
    k_values=(1, 3), seeds=2, rollouts=5, horizon=20, n=60, alternations=1, update_rollouts=10
)


def _rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    return {
        (r["k"], r["seed"]): {k: v for k, v in r.items() if k not in TIMING}
        for r in read_results(path)
    }


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
def test_killed_sweep_resumes_to_the_same_rows(tmp_path):
    """SIGKILL a sweep after its first record, resume it: same rows as one clean sweep."""
    full = tmp_path / "full"
    run_sweep(TINY.jobs(), warehouse_job, full, fieldnames=FIELDNAMES, workers=1)
    cut = tmp_path / "cut"
    script = (
        "import sys; from altmarl.experiments.warehouse import *; "
        "from altmarl.experiments.sweep import run_sweep; "
        f"s = WarehouseStudy(k_values=(1, 3), seeds=2, rollouts=5, horizon=20, n=60, "
        f"alternations=1, update_rollouts=10); "
        f"run_sweep(s.jobs(), warehouse_job, {str(cut)!r}, fieldnames=FIELDNAMES, workers=1)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if len(read_results(cut / "results.csv")) >= 1:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = read_results(cut / "results.csv")
    assert 1 <= len(done) < 4, "the sweep should have been killed midway"
    with pytest.raises(AltmarlError, match="--resume"):
        run_sweep(TINY.jobs(), warehouse_job, cut, fieldnames=FIELDNAMES, workers=1)
    run_sweep(TINY.jobs(), warehouse_job, cut, fieldnames=FIELDNAMES, workers=2, resume=True)
    assert _rows(cut / "results.csv") == _rows(full / "results.csv")
    assert len(read_results(cut / "results.csv")) == 4  # nothing ran twice


def test_failed_job_is_retried_then_recorded(tmp_path):
    jobs = TINY.jobs()[:2]
    bad = Job({"k": 99, "seed": 0}, {**jobs[0].params, "k": 99})  # k > n: raises
    rows = run_sweep([*jobs, bad], warehouse_job, tmp_path, fieldnames=FIELDNAMES, workers=2)
    by_key = {(r["k"], r["seed"]): r for r in rows}
    failed = by_key[(99, 0)]
    assert failed["status"] == "failed" and failed["attempts"] == 2
    assert "k = 99 must be <= n = 60" in failed["error"]
    assert sum(r["status"] == "ok" for r in rows) == 2


@pytest.mark.slow
def test_local_and_ray_backends_agree_record_for_record(tmp_path):
    pytest.importorskip("ray")
    run_sweep(TINY.jobs(), warehouse_job, tmp_path / "local", fieldnames=FIELDNAMES, workers=2)
    run_sweep(
        TINY.jobs(),
        warehouse_job,
        tmp_path / "ray",
        fieldnames=FIELDNAMES,
        backend="ray",
        workers=2,
    )
    local, ray_rows = (
        _rows(tmp_path / "local" / "results.csv"),
        _rows(tmp_path / "ray" / "results.csv"),
    )
    assert len(local) == 4 and local == ray_rows


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


def test_k_values_parser():
    assert k_values("1-5") == (1, 2, 3, 4, 5)
    assert k_values("1-50:10") == (1, 11, 21, 31, 41)
    assert k_values("10,1,5,5") == (1, 5, 10)
    import argparse

    for bad in ("0-3", "a,b", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            k_values(bad)


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


def test_a_dead_worker_costs_a_retry_not_the_sweep(tmp_path):
    from sweep_jobs import crash_once

    jobs = [Job({"x": x}, {"x": x, "dir": str(tmp_path)}) for x in range(4)]
    rows = run_sweep(jobs, crash_once, tmp_path / "out", fieldnames=["value"], workers=2)
    by_x = {r["x"]: r for r in rows}
    assert all(r["status"] == "ok" for r in rows) and len(rows) == 4
    assert by_x[2]["value"] == 4 and by_x[2]["attempts"] == 2
    assert len(read_results(tmp_path / "out" / "results.csv")) == 4


def test_fit_inverse_sqrt_recovers_the_constant():
    from altmarl.experiments.figures import fit_inverse_sqrt

    ks = np.array([1, 5, 10, 20, 30, 50])
    C, r2 = fit_inverse_sqrt(ks, 2.5 / np.sqrt(ks))
    assert C == pytest.approx(2.5) and r2 == pytest.approx(1.0)
    # least squares by hand on two points: C = sum(y x) / sum(x^2) with x = 1/sqrt(k)
    C, _ = fit_inverse_sqrt(np.array([1, 4]), np.array([1.0, 1.0]))
    assert C == pytest.approx((1 + 0.5) / (1 + 0.25))
