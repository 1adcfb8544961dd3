"""The sweep writer (``experiments/sweep.py``): nothing lost, nothing half-written, nothing
mixed, failures reported, a dead worker retried, no worker outliving its sweep.

Crash injection as in ``tests/alternating/test_rundir.py``: the storage primitives raise at
their ``i``-th call (``torn``: after writing half the bytes), for every ``i`` of a small
sweep; the sweep resumed in the same directory must end with exactly the rows of an
uninterrupted one, each job once."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from alternating_helpers import Crash, Primitives
from altmarl.errors import AltmarlError, AltmarlWarning, DirectoryInUseError
from altmarl.experiments.sweep import TORN_FILE, Job, read_results, run_sweep, sweep_study
from altmarl.storage import lock_directory
from sweep_jobs import fail_on_two, square

JOBS = [Job({"x": x}, {"x": x}) for x in range(4)]
PROTOCOL = {"grid": [0, 1, 2, 3], "n": 1000}


def _study(out: Path, protocol=PROTOCOL, resume: bool = False, jobs=JOBS, fn=square) -> None:
    sweep_study(out, protocol, jobs, fn, fieldnames=["value"], workers=1, resume=resume)


def _rows(out: Path) -> list[dict[str, str]]:
    return sorted(
        (
            {k: v for k, v in r.items() if k != "job_seconds"}
            for r in read_results(out / "results.csv")
        ),
        key=lambda r: r["x"],
    )


def test_a_crash_at_any_write_boundary_resumes_to_the_uninterrupted_rows(tmp_path, monkeypatch):
    counter = Primitives()
    with monkeypatch.context() as mp:
        counter.install(mp)
        _study(tmp_path / "ref")
    expected = _rows(tmp_path / "ref")
    assert [r["value"] for r in expected] == ["0", "1", "4", "9"]
    # study.json (write, rename), the header, four rows
    assert counter.kinds == ["write", "rename", *["write"] * 5]
    for torn in (False, True):
        for at in range(counter.calls):
            if torn and counter.kinds[at] != "write":
                continue
            out = tmp_path / f"cut{at}{torn}"
            with monkeypatch.context() as mp:
                Primitives(at, torn).install(mp)
                with pytest.raises(Crash):
                    _study(out)
            with pytest.warns(AltmarlWarning) if torn and at >= 2 else _no_warning():
                _study(out, resume=True)
            assert _rows(out) == expected, (at, torn)
            assert (out / TORN_FILE).exists() == (torn and at >= 2)


class _no_warning:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("error", AltmarlWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def test_a_torn_last_row_is_moved_aside_and_its_job_rerun(tmp_path):
    out = tmp_path / "s"
    _study(out)
    path = out / "results.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    # the torn row may look finished to a plain CSV reader; the sweep must not trust it
    with pytest.warns(AltmarlWarning, match="last row was incomplete"):
        _study(out, resume=True)
    assert _rows(out) == _rows_of_a_clean_sweep(tmp_path)
    assert (out / TORN_FILE).read_text() == lines[-1][: len(lines[-1]) // 2] + "\n"


def _rows_of_a_clean_sweep(tmp_path: Path) -> list[dict[str, str]]:
    _study(tmp_path / "clean")
    return _rows(tmp_path / "clean")


def test_a_damaged_middle_row_is_refused(tmp_path):
    out = tmp_path / "s"
    _study(out)
    path = out / "results.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = "1,2\n"
    path.write_text("".join(lines))
    with pytest.raises(AltmarlError, match="line 3 has 2 fields"):
        _study(out, resume=True)


def test_the_protocol_is_written_before_any_job_and_checked_at_every_start(tmp_path):
    """Killed before its first row, rerun with other arguments: refused, with or without
    --resume; the rows of two protocols never mix."""
    out = tmp_path / "s"

    def killed_at_start(params):
        raise Crash

    with pytest.raises(Crash):
        _study(out, fn=killed_at_start)
    assert json.loads((out / "study.json").read_text()) == PROTOCOL
    assert read_results(out / "results.csv") == []
    other = {**PROTOCOL, "n": 50}
    with pytest.raises(AltmarlError, match="--resume"):
        _study(out, protocol=other)
    with pytest.raises(AltmarlError, match=r"different protocol \(n\)"):
        _study(out, protocol=other, resume=True)
    with pytest.raises(AltmarlError, match="--resume"):
        _study(out)  # the same protocol still needs --resume
    _study(out, resume=True)
    assert json.loads((out / "study.json").read_text()) == PROTOCOL
    assert [r["value"] for r in _rows(out)] == ["0", "1", "4", "9"]


def test_rows_without_a_protocol_are_refused(tmp_path):
    out = tmp_path / "s"
    run_sweep(JOBS, square, out, fieldnames=["value"], workers=1)
    with pytest.raises(AltmarlError, match=r"no study\.json"):
        _study(out, resume=True)


def test_a_sweep_holds_its_directory(tmp_path):
    with lock_directory(tmp_path / "s"):
        with pytest.raises(DirectoryInUseError, match=f"pid {os.getpid()}"):
            _study(tmp_path / "s")
    assert not (tmp_path / "s" / "study.json").exists()


def test_results_rows_are_one_line_each(tmp_path):
    """An error message with newlines stays on one line, so a torn record is a torn line."""
    from altmarl.experiments.sweep_files import _fmt

    assert _fmt("a\nb\r\nc") == "a b c"
    out = tmp_path / "s"
    run_sweep(JOBS, fail_on_two, out, fieldnames=["value"], workers=1)
    with (out / "results.csv").open(newline="") as fh:
        assert all(len(row) == 6 for row in csv.reader(fh))


def test_a_dead_worker_costs_a_retry_not_the_sweep(tmp_path):
    from sweep_jobs import crash_once

    jobs = [Job({"x": x}, {"x": x, "dir": str(tmp_path)}) for x in range(4)]
    rows = run_sweep(jobs, crash_once, tmp_path / "out", fieldnames=["value"], workers=2)
    by_x = {r["x"]: r for r in rows}
    assert all(r["status"] == "ok" for r in rows) and len(rows) == 4
    assert by_x[2]["value"] == 4 and by_x[2]["attempts"] == 2
    assert len(read_results(tmp_path / "out" / "results.csv")) == 4


def test_a_worker_knows_its_share_of_the_cores(tmp_path):
    """Jobs that run torch read it (torch would take one thread per core in every worker)."""
    from altmarl.experiments.sweep_backends import worker_threads
    from sweep_jobs import worker_share

    jobs = [Job({"x": x}, {"x": x}) for x in range(2)]
    rows = run_sweep(jobs, worker_share, tmp_path / "out", fieldnames=["value"], workers=2)
    assert [r["value"] for r in rows] == [max(1, (os.cpu_count() or 1) // 2)] * 2
    assert worker_threads() is None
