"""The package type-checks: the core modules under mypy's strict flags, the rest with its
defaults (``[tool.mypy]`` in pyproject.toml lists the strict modules).

Strict core: the data and combinatorics (``counts``, ``game``, ``policies``, ``laws``), the
oracle layer, G-LEARN and ALTERNATING-MARL. The rest (CLI, studies, the torch extension)
is checked with mypy's default settings.

Top level, not beside one module (cross-cutting): mypy runs over the whole package.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy is installed by the [test] extra"
)
def test_the_package_type_checks():
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
