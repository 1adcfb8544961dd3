"""The warehouse study (``experiments/warehouse.py``): its jobs under the sweep runner (local
pool and Ray), resume after a kill, retries, and its protocol file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from altmarl.errors import AltmarlError
from altmarl.experiments.sweep import Job, read_results, run_sweep
from altmarl.experiments.warehouse import FIELDNAMES, WarehouseStudy, warehouse_job
from experiments_helpers import _rows

TINY = WarehouseStudy(
    k_values=(1, 3), seeds=2, rollouts=5, horizon=20, n=60, alternations=1, update_rollouts=10
)


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


def test_the_warehouse_protocol_file_is_unchanged():
    """study.json of the warehouse study has no scenario key (so adding scenarios did not
    change it: --resume accepts a study started before them; the exploit keys came with
    the Nash-gap columns, see CHANGELOG); another scenario records its name."""
    from altmarl.experiments.warehouse import WarehouseStudy

    assert list(WarehouseStudy().to_json()) == [
        "k_values", "seeds", "rollouts", "horizon", "n", "alternations", "m", "order",
        "eps_tol", "update_rollouts", "local_oracle", "tol", "global_candidates",
        "reuse_global_response", "exploit", "exploit_rollouts",
    ]  # fmt: skip
    assert WarehouseStudy(scenario="grid").to_json()["scenario"] == "grid"
    with pytest.raises(AltmarlError, match="--scenario 'nope'"):
        WarehouseStudy(scenario="nope").validate()
