from __future__ import annotations

import json

import numpy as np
import pytest

from altmarl.counts import CountSpace
from altmarl.errors import PolicyError
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.policy_dir import load_policy_dir, save_policy_dir
from altmarl.scenarios import warehouse


def test_save_load_round_trip(tmp_path):
    g = warehouse()
    rng = np.random.default_rng(0)
    space = CountSpace(4, 5)
    pg = GlobalPolicy(rng.integers(0, 5, size=(5, space.size)), 4, 5, 5)
    pl = LocalPolicy(rng.dirichlet(np.ones(3), size=(5, 5)))
    save_policy_dir(tmp_path / "p", pg, pl, game_fingerprint=g.fingerprint)
    with np.load(tmp_path / "p" / "policy.npz") as data:
        assert set(data.files) == {"global_table", "counts", "local_table"}
        assert data["global_table"].shape == (5, space.size)
        assert np.issubdtype(data["global_table"].dtype, np.integer)
        np.testing.assert_array_equal(data["counts"], space.all())
        assert data["local_table"].shape == (5, 5, 3)
    meta = json.loads((tmp_path / "p" / "meta.json").read_text())
    assert meta["k"] == 4 and meta["parameterization"] == "mean-field"
    assert meta["game_fingerprint"] == g.fingerprint and "altmarl_version" in meta
    back = load_policy_dir(tmp_path / "p", g)
    np.testing.assert_array_equal(back.global_policy.table, pg.table)
    np.testing.assert_array_equal(back.local_policy.probs, pl.probs)


def test_standard_round_trip_and_mean_field_conversion(tmp_path):
    # a permutation-invariant standard policy: action = number of agents in state 1
    from altmarl.counts import TupleSpace

    ts = TupleSpace(2, 2)
    table = np.tile(ts.counts(np.arange(4))[:, 1], (2, 1))
    pg = GlobalPolicy(table, 2, 2, 3, "standard")
    pl = LocalPolicy.uniform(2, 2, 2)
    save_policy_dir(tmp_path / "s", pg, pl)
    back = load_policy_dir(tmp_path / "s").global_policy
    assert back.parameterization == "standard"
    np.testing.assert_array_equal(back.table, table)
    mf = pg.to_mean_field()
    np.testing.assert_array_equal(mf.table[0], CountSpace(2, 2).all()[:, 1])
    rng = np.random.default_rng(0)
    c = np.array([[1, 1], [2, 0], [0, 2]])
    np.testing.assert_array_equal(
        pg.act(np.zeros(3, int), c, rng), mf.act(np.zeros(3, int), c, rng)
    )


def test_policy_validation():
    with pytest.raises(PolicyError, match=r"sums to 0.9"):
        LocalPolicy(np.full((2, 2, 2), 0.45))
    with pytest.raises(PolicyError, match="negative"):
        LocalPolicy(np.array([[[1.5, -0.5]]]))
    with pytest.raises(PolicyError, match=r"shape \[S_g, 6\]"):
        GlobalPolicy(np.zeros((2, 5), int), 2, 3, 2)
    with pytest.raises(PolicyError, match=r"actions must lie in \[0, 2\)"):
        GlobalPolicy(np.full((2, 6), 2), 2, 3, 2)


def test_load_rejects_mismatched_game(tmp_path):
    pg = GlobalPolicy.constant(0, num_global_states=2, num_actions=2, k=1, num_local_states=2)
    save_policy_dir(tmp_path / "p", pg, LocalPolicy.uniform(2, 2, 2))
    with pytest.raises(PolicyError, match="global policy is for"):
        load_policy_dir(tmp_path / "p", warehouse())
    with pytest.raises(PolicyError, match=r"needs policy\.npz"):
        load_policy_dir(tmp_path / "nothing")
