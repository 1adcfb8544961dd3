"""The ``altmarl`` entry point (``altmarl.cli``): its version, and every command on the
built-in scenarios beyond the warehouse."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

import altmarl

ROOT = Path(__file__).resolve().parents[2]


def test_version_prints_the_package_version(cli):
    code, out, err = cli("--version")
    assert code == 0 and err == ""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert out.strip() == f"altmarl {version}" == f"altmarl {altmarl.__version__}"


NEW = ("federated", "grid")


@pytest.mark.parametrize("name", NEW)
def test_every_command_runs_on_the_new_scenarios(name, tmp_path, cli_json):
    out = tmp_path / "run"
    sim = cli_json("simulate", "--scenario", name, "--rollouts", "3", "--horizon", "10")
    assert sim["game"] == name and np.isfinite(sim["mean_return"])
    train = cli_json(
        "train", "--scenario", name, "--k", "2", "--n", "3", "--evaluation", "exact",
        "--m", "exact", "--local-oracle", "planning", "--alternations", "2",
        "--eps-tol", "0.01", "--out", str(out),
    )  # fmt: skip
    assert train["game"] == name
    ev = cli_json(
        "evaluate", "--scenario", name, "--policy-dir", str(out / "policy"), "--n", "3",
        "--k", "2", "--rollouts", "3", "--horizon", "10", "--exact",
    )  # fmt: skip
    cert = cli_json(
        "certify", "--scenario", name, "--policy-dir", str(out / "policy"), "--n", "3",
        "--k", "2", "--max-enumerate", "64",
    )  # fmt: skip
    # the certificate's exact value is the exact evaluation's (same chain, same pair)
    assert cert["value"] == pytest.approx(ev["exact_value"], rel=1e-9)
    assert cert["eps"] >= 0
