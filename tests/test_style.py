"""The code base stays `ruff check` and `ruff format` clean (pyproject.toml config).

Top level, not beside one module (cross-cutting): ruff runs over the whole code base."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["src", "tests", "benchmarks", "examples"]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed by the [test] extra")
@pytest.mark.parametrize("cmd", [["ruff", "check"], ["ruff", "format", "--check"]])
def test_ruff_clean(cmd):
    proc = subprocess.run([*cmd, *TARGETS], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
