"""``altmarl simulate``: JSON, reproducibility, policy directories and game files, bad input,
the console script."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.policy_dir import save_policy_dir
from altmarl.scenarios import random_game, warehouse


def test_simulate_json_keys_and_reproducibility(cli_json):
    a = cli_json(
        "simulate", "--scenario", "warehouse", "--rollouts", "5", "--horizon", "10", "--seed", "3"
    )
    for key in (
        "mean_return",
        "std_return",
        "n",
        "k",
        "rollouts",
        "horizon",
        "simulator",
        "seconds",
    ):
        assert key in a
    assert (a["n"], a["k"], a["rollouts"], a["horizon"], a["simulator"]) == (
        1000,
        10,
        5,
        10,
        "counts",
    )
    b = cli_json(
        "simulate", "--scenario", "warehouse", "--rollouts", "5", "--horizon", "10", "--seed", "3"
    )
    assert a["mean_return"] == b["mean_return"]


def test_simulate_with_policy_dir_and_game_file(tmp_path, cli_json):
    game = random_game(0)
    game.to_npz(tmp_path / "g.npz")
    pg = GlobalPolicy.constant(1, num_global_states=2, num_actions=2, k=2, num_local_states=2)
    save_policy_dir(
        tmp_path / "pol", pg, LocalPolicy.uniform(2, 2, 2), game_fingerprint=game.fingerprint
    )
    out = cli_json(
        "simulate",
        "--game",
        str(tmp_path / "g.npz"),
        "--policy-dir",
        str(tmp_path / "pol"),
        "--n",
        "50",
        "--rollouts",
        "4",
        "--horizon",
        "5",
        "--simulator",
        "agents",
    )
    assert out["k"] == 2 and out["simulator"] == "agents" and np.isfinite(out["mean_return"])


def test_simulate_huge_n(cli_json):
    out = cli_json(
        "simulate", "--scenario", "warehouse", "--n", "1e9", "--rollouts", "3", "--horizon", "5"
    )
    assert out["n"] == 10**9


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--scenario", "warehouse", "--n", "5", "--k", "10"], "--k 10 must be <= --n 5"),
        (["--scenario", "nope"], "--scenario 'nope' is unknown"),
        (["--game", "/no/such.npz"], "no such file"),
        (["--scenario", "warehouse", "--rollouts", "0"], "argument --rollouts: 0 must be >= 1"),
        (["--scenario", "warehouse", "--simulator", "x"], "argument --simulator: invalid choice"),
        (["--scenario", "warehouse", "--game", "x.npz"], "not allowed with argument"),
        (["--scenario", "warehouse", "--policy-dir", "/no/dir"], "needs policy.npz"),
    ],
)
def test_simulate_bad_input_exits_2_with_one_line(cli, argv, needle):
    code, _, err = cli("simulate", *argv)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_game_file_is_reported(tmp_path, cli):
    g = warehouse()
    arrays = dict(P_g=g.P_g, P_l=g.P_l, r_g=g.r_g, r_l=g.r_l - 0.5, gamma=0.95)
    np.savez(tmp_path / "neg.npz", **arrays)
    code, _, err = cli("simulate", "--game", str(tmp_path / "neg.npz"))
    assert code == 2 and "is negative: Assumption 2.2" in err


def test_console_script_runs():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "altmarl",
            "simulate",
            "--scenario",
            "warehouse",
            "--rollouts",
            "2",
            "--horizon",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(proc.stdout)["rollouts"] == 2
