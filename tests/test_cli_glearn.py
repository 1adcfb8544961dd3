"""``altmarl glearn`` options: ``--stopping`` and ``--parameterization standard``."""

from __future__ import annotations

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
