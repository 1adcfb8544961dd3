"""The sweep writer (``experiments/sweep.py``): nothing lost, nothing half-written, nothing
mixed, failures reported, no worker outliving its sweep.

Crash injection as in ``tests/test_rundir.py``: the storage primitives raise at their
``i``-th call (``torn``: after writing half the bytes), for every ``i`` of a small sweep;
the sweep resumed in the same directory must end with exactly the rows of an uninterrupted
one, each job once.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from altmarl.errors import AltmarlError, AltmarlWarning, DirectoryInUseError
from altmarl.experiments.sweep import (
    TORN_FILE,
    Job,
    read_results,
    run_sweep,
    sweep_study,
    unfinished_jobs,
)
from altmarl.storage import lock_directory
from sweep_jobs import fail_on_two, square
from test_rundir import Crash, Primitives

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


def test_failed_jobs_are_listed_and_the_cli_exits_3(tmp_path):
    """Everything that finished is written; the command then exits 3 naming the failure."""
    import argparse

    from altmarl.cli._sweep import run_and_report

    out = tmp_path / "s"

    class Study:
        def jobs(self):
            return JOBS

    def run_study(study, out_dir, **kw):
        sweep_study(out_dir, PROTOCOL, JOBS, fail_on_two, fieldnames=["value"], **kw)
        return Path(out_dir)

    args = argparse.Namespace(
        backend="local",
        ray_address=None,
        workers=1,
        resume=False,
        out=out,
        json=True,
        command="reproduce",
    )
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert run_and_report(Study(), run_study, args) == 3
    assert "1 of 4 jobs failed" in err.getvalue() and "x = 2 is not allowed" in err.getvalue()
    assert err.getvalue().count("\n") == 1
    rows = {r["x"]: r for r in read_results(out / "results.csv")}
    assert [rows[x]["status"] for x in "0123"] == ["ok", "ok", "failed", "ok"]
    assert [j.key for j, _ in unfinished_jobs(out, JOBS)] == [{"x": 2}]


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


def test_results_rows_are_one_line_each(tmp_path):
    """An error message with newlines stays on one line, so a torn record is a torn line."""
    from altmarl.experiments.sweep_files import _fmt

    assert _fmt("a\nb\r\nc") == "a b c"
    out = tmp_path / "s"
    run_sweep(JOBS, fail_on_two, out, fieldnames=["value"], workers=1)
    with (out / "results.csv").open(newline="") as fh:
        assert all(len(row) == 6 for row in csv.reader(fh))
