from __future__ import annotations

import io
import json
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

import altmarl
from altmarl.cli import main


@pytest.fixture
def cli():
    """Run the CLI in-process: returns (exit status, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse errors
                code = int(exc.code or 0)
        return code, out.getvalue(), err.getvalue()

    return run


@pytest.fixture
def cli_json(cli):
    def run(*argv: str) -> dict:
        code, out, err = cli(*argv, "--json")
        assert code == 0, err
        return json.loads(out)

    return run


@pytest.fixture(scope="session")
def subprocess_env() -> dict[str, str]:
    """Environment for commands and scripts run as a user would (tests/test_docs.py,
    tests/test_examples.py): the ``altmarl`` under test first on ``PYTHONPATH``, this
    interpreter's scripts directory (its ``python`` and ``altmarl``) first on ``PATH``, and a
    non-interactive matplotlib backend."""
    env = dict(os.environ)
    src = str(Path(altmarl.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["PATH"] = os.pathsep.join(
        p for p in (str(Path(sys.executable).parent), env.get("PATH")) if p
    )
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module's tests: the networks are small, so one thread is as
    fast and never oversubscribes a busy machine. Use it in a module that has skipped
    itself where torch is missing (``pytest.importorskip``)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
