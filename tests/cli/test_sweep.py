"""Study arguments and reporting (``cli/_sweep.py``): ``--k-values`` ranges, failed jobs
listed with exit status 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from altmarl.cli._sweep import k_values
from altmarl.experiments.sweep import Job, read_results, sweep_study, unfinished_jobs
from sweep_jobs import fail_on_two


def test_k_values_parser():
    assert k_values("1-5") == (1, 2, 3, 4, 5)
    assert k_values("1-50:10") == (1, 11, 21, 31, 41)
    assert k_values("10,1,5,5") == (1, 5, 10)
    import argparse

    for bad in ("0-3", "a,b", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            k_values(bad)


JOBS = [Job({"x": x}, {"x": x}) for x in range(4)]
PROTOCOL = {"grid": [0, 1, 2, 3], "n": 1000}


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
