"""``altmarl glearn``: JSON and files, bad input, the memory budget, and the options
``--stopping`` and ``--parameterization standard``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from altmarl.counts import CountSpace, TupleSpace
from altmarl.policy_dir import load_policy_dir
from altmarl.scenarios import random_game


@pytest.fixture
def game_file(tmp_path):
    game = random_game(5, num_local_states=3, gamma=0.9)
    game.to_npz(tmp_path / "g.npz")
    return game, tmp_path / "g.npz"


def test_stopping_rules_reach_the_same_fixed_point_with_their_certificates(
    game_file, tmp_path, cli_json
):
    """Each --stopping rule is applied (echoed, with its own certificate: the residual rule
    certifies gamma / (1 - gamma) x residual) and each Q is within its certified bound of
    the fixed point, so any two agree within the sum of their bounds."""
    game, path = game_file
    q, out = {}, {}
    for rule in ("span", "certified", "residual"):
        d = tmp_path / rule
        out[rule] = cli_json(
            "glearn", "--game", str(path), "--k", "3", "--m", "20", "--tol", "1e-4",
            "--stopping", rule, "--out", str(d),
        )  # fmt: skip
        assert out[rule]["stopping"] == rule and out[rule]["converged"]
        q[rule] = np.load(d / "q.npy")
    beta = game.gamma / (1 - game.gamma)
    res = out["residual"]
    assert res["residual"] <= 1e-4
    assert res["error_bound"] == pytest.approx(beta * res["residual"], rel=1e-12)
    assert out["certified"]["error_bound"] <= 1e-4 and out["span"]["error_bound"] <= 1e-4
    # the span rule stops many sweeps sooner than plain value iteration at this accuracy
    assert out["span"]["iterations"] < out["certified"]["iterations"]
    for a in q:
        for b in q:
            gap = np.abs(q[a] - q[b]).max()
            assert gap <= out[a]["error_bound"] + out[b]["error_bound"] + 1e-12, (a, b)


def test_standard_parameterization_writes_a_tuple_indexed_policy(game_file, tmp_path, cli_json):
    """--parameterization standard learns on ordered k-tuples (|S_l|^k inputs): the table
    and the file are tuple-indexed, and with the exact operator its Q is the mean-field Q
    read at each tuple's count vector."""
    game, path = game_file
    k, L = 3, 3
    common = ["glearn", "--game", str(path), "--k", str(k), "--m", "exact", "--tol", "1e-10"]
    std = cli_json(*common, "--parameterization", "standard", "--out", str(tmp_path / "s"))
    mf = cli_json(*common, "--out", str(tmp_path / "mf"))
    assert std["parameterization"] == "standard"
    assert std["table_size"] == game.num_sg * game.num_ag * L**k
    assert mf["table_size"] == game.num_sg * game.num_ag * CountSpace(k, L).size
    pair = load_policy_dir(tmp_path / "s", game)
    assert pair.global_policy.parameterization == "standard"
    with np.load(tmp_path / "s" / "policy.npz") as z:
        np.testing.assert_array_equal(z["tuples"], TupleSpace(k, L).all())
    ts = TupleSpace(k, L)
    ranks = CountSpace(k, L).rank(ts.counts(np.arange(ts.size)))
    q_std, q_mf = np.load(tmp_path / "s" / "q.npy"), np.load(tmp_path / "mf" / "q.npy")
    np.testing.assert_allclose(q_std, q_mf[:, ranks], atol=1e-8)


def test_cli_glearn_json(cli_json):
    out = cli_json("glearn", "--scenario", "warehouse", "--k", "4", "--m", "10", "--seed", "1")
    for key in ("iterations", "table_size", "samples", "seconds", "residual", "value_mean"):
        assert key in out
    assert out["table_size"] == 5 * 70 * 5 and out["samples"] == 5 * 70 * 10
    assert out["converged"] and 20 <= out["value_mean"] <= 11.5 / 0.05


def test_cli_glearn_out_files(tmp_path, cli, cli_json):
    game = random_game(0, num_local_states=3)
    game.to_npz(tmp_path / "g.npz")
    d = tmp_path / "pol"
    out = cli_json(
        "glearn",
        "--game",
        str(tmp_path / "g.npz"),
        "--k",
        "3",
        "--m",
        "exact",
        "--out",
        str(d),
        "--tol",
        "1e-9",
    )
    assert out["samples"] == 0 and out["m"] == "exact"
    q = np.load(d / "q.npy")
    assert q.shape == (2, 10, 2)
    assert q.max(axis=-1).mean() == pytest.approx(out["value_mean"])
    with np.load(d / "policy.npz") as z:
        assert set(z.files) >= {"global_table", "local_table", "counts"}
        np.testing.assert_array_equal(z["counts"], CountSpace(3, 3).all())
        np.testing.assert_array_equal(z["global_table"], q.argmax(axis=-1))
    meta = json.loads((d / "meta.json").read_text())
    assert meta["k"] == 3 and meta["parameterization"] == "mean-field"
    pair = load_policy_dir(d, game)
    assert np.allclose(pair.local_policy.probs, 0.5)
    # the learned local policy dir can be fed back as --local-policy-dir
    code, _, err = cli(
        "glearn", "--game", str(tmp_path / "g.npz"), "--k", "2", "--local-policy-dir", str(d)
    )
    assert code == 0, err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--k", "0"], "--k"),
        (["--k", "3", "--m", "0"], "--m"),
        (["--k", "30", "--parameterization", "standard"], "k"),
        (["--k", "3", "--local-policy-dir", "/nonexistent"], "--local-policy-dir"),
    ],
)
def test_cli_glearn_bad_input_exits_2(cli, argv, needle):
    code, out, err = cli("glearn", "--scenario", "warehouse", *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_cli_glearn_memory_budget(cli, monkeypatch):
    monkeypatch.setenv("ALTMARL_MEMORY_BUDGET_GB", "0.001")
    code, _, err = cli("glearn", "--scenario", "warehouse", "--k", "20")
    assert code == 2 and "memory budget" in err and "k=20" in err
