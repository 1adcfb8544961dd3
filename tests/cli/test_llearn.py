"""``altmarl llearn``: JSON and ``--out``, human output, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from altmarl.cli import main
from altmarl.policies import LocalPolicy
from altmarl.policy_dir import load_policy_dir, save_policy_dir
from altmarl.scenarios import random_game
from llearn_helpers import shared_value, tiny_setup


@pytest.fixture
def cli_inputs(tmp_path):
    game, pi_g = tiny_setup(0)
    path = tmp_path / "tiny.npz"
    game.to_npz(path)
    pdir = save_policy_dir(tmp_path / "start", pi_g, LocalPolicy.uniform(2, 2, 2))
    return path, pdir, pi_g


def _llearn(path, pdir, oracle: str) -> list[str]:
    """``altmarl llearn`` on the tiny game at k = 2, T = 3 with ``oracle``."""
    return [
        "llearn", "--game", str(path), "--k", "2", "--global-policy-dir", str(pdir),
        "--oracle", oracle, "--T", "3",
    ]  # fmt: skip


def test_cli_json_and_out(cli_inputs, tmp_path, capsys):
    path, pdir, pi_g = cli_inputs
    out = tmp_path / "new"
    argv = [*_llearn(path, pdir, "ucfh"), "--episodes", "500", "--json", "--out", str(out)]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("oracle", "value", "seconds", "samples", "episodes"):
        assert key in result
    assert result["oracle"] == "ucfh" and 0 < result["episodes"] <= 500
    assert result["samples"] == result["episodes"] * 3 * 3
    pair = load_policy_dir(out)
    assert np.array_equal(pair.global_policy.table, pi_g.table)
    assert pair.meta["llearn"]["oracle"] == "ucfh"
    game = random_game(0)
    assert shared_value(game, pi_g, pair.local_policy, horizon=3) == pytest.approx(result["value"])


def test_cli_human_output(cli_inputs, capsys):
    path, pdir, _ = cli_inputs
    argv = _llearn(path, pdir, "planning")
    assert main(argv) == 0
    assert "L-LEARN (planning, k=2, T=3)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--k", "3"], "--k 3"),
        (["--k", "2", "--oracle", "planning", "--episodes", "10"], "--episodes"),
        (["--k", "0"], "--k"),
        (["--k", "2", "--oracle", "nope"], "--oracle"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(cli_inputs, capsys, extra, needle):
    path, pdir, _ = cli_inputs
    argv = ["llearn", "--game", str(path), "--global-policy-dir", str(pdir), *extra]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_cli_missing_policy_dir_exits_2(cli_inputs, tmp_path, capsys):
    path, _, _ = cli_inputs
    argv = ["llearn", "--game", str(path), "--k", "2", "--global-policy-dir", str(tmp_path / "x")]
    assert main(argv) == 2
    assert "policy-dir" in capsys.readouterr().err
