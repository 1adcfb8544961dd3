"""The ``altmarl`` entry point itself (``altmarl.cli``): version."""

from __future__ import annotations

import tomllib
from pathlib import Path

import altmarl

ROOT = Path(__file__).resolve().parents[1]


def test_version_prints_the_package_version(cli):
    code, out, err = cli("--version")
    assert code == 0 and err == ""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert out.strip() == f"altmarl {version}" == f"altmarl {altmarl.__version__}"
