"""The policy directory format (``policy_dir.py``): round trips, the standard table's
mean-field conversion, mismatched games, files written under another order."""

from __future__ import annotations

import itertools
import json
import math

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


def test_load_rejects_mismatched_game(tmp_path):
    pg = GlobalPolicy.constant(0, num_global_states=2, num_actions=2, k=1, num_local_states=2)
    save_policy_dir(tmp_path / "p", pg, LocalPolicy.uniform(2, 2, 2))
    with pytest.raises(PolicyError, match="global policy is for"):
        load_policy_dir(tmp_path / "p", warehouse())
    with pytest.raises(PolicyError, match=r"needs policy\.npz"):
        load_policy_dir(tmp_path / "nothing")


# ------------------------------------------------------- files written under another order


def _write_policy_file(path, meta, **arrays):
    """A policy directory written by hand, not by save_policy_dir (an older or foreign
    writer): the loader must read it by its stored inputs."""
    path.mkdir()
    np.savez(path / "policy.npz", **arrays)
    (path / "meta.json").write_text(json.dumps(meta))
    return path


def _meta(k, L, S_g, A_g, A_l, parameterization):
    return {
        "k": k,
        "parameterization": parameterization,
        "num_global_states": S_g,
        "num_local_states": L,
        "num_global_actions": A_g,
        "num_local_actions": A_l,
    }


@pytest.mark.parametrize("order", ["documented", "shuffled"])
def test_mean_field_file_is_read_by_its_stored_counts(tmp_path, order):
    """Each column means the count vector stored beside it. The documented order is the
    combinatorial number system (rank = sum_j binom(b_j, j + 1)); the shuffled file lists
    the same vectors in a random order. Either way pi_g(s_g, c) must be the stored action
    of c: a loader that took the columns by position misreads the shuffled file, and a
    change of CountSpace's order (with such a loader) misreads the documented one."""
    k, L, S_g, A_g = 3, 3, 2, 4
    counts = [c for c in itertools.product(range(k + 1), repeat=L) if sum(c) == k]

    def documented_rank(c):
        bars = np.cumsum(c[:-1]) + np.arange(L - 1)
        return sum(math.comb(int(b), j + 1) for j, b in enumerate(bars))

    counts.sort(key=documented_rank)
    assert [documented_rank(c) for c in counts] == list(range(len(counts)))
    counts = np.array(counts)
    if order == "shuffled":
        counts = counts[np.random.default_rng(0).permutation(len(counts))]

    def action(s_g, c):  # a non-symmetric rule, so every column matters
        return (s_g + 2 * c[0] + c[1]) % A_g

    table = np.array([[action(g, c) for c in counts] for g in range(S_g)])
    local = LocalPolicy.uniform(L, S_g, 2).probs
    path = _write_policy_file(
        tmp_path / "p",
        _meta(k, L, S_g, A_g, 2, "mean-field"),
        global_table=table,
        counts=counts,
        local_table=local,
    )
    pi_g = load_policy_dir(path).global_policy
    rng = np.random.default_rng(1)
    for g in range(S_g):
        got = pi_g.act(np.full(len(counts), g), counts, rng)
        np.testing.assert_array_equal(got, [action(g, c) for c in counts])


def test_standard_file_is_read_by_its_stored_tuples(tmp_path):
    """Same for the standard parameterization: columns mean the stored k-tuples."""
    k, L, S_g, A_g = 2, 3, 2, 3
    tuples = np.array(list(itertools.product(range(L), repeat=k)))
    tuples = tuples[np.random.default_rng(2).permutation(len(tuples))]
    table = np.array([[(g + 2 * t[0] + t[1]) % A_g for t in tuples] for g in range(S_g)])
    path = _write_policy_file(
        tmp_path / "s",
        _meta(k, L, S_g, A_g, 2, "standard"),
        global_table=table,
        tuples=tuples,
        local_table=LocalPolicy.uniform(L, S_g, 2).probs,
    )
    pi_g = load_policy_dir(path).global_policy
    from altmarl.counts import TupleSpace

    cols = TupleSpace(k, L).index(tuples)
    for g in range(S_g):
        np.testing.assert_array_equal(pi_g.table[g, cols], table[g])


@pytest.mark.parametrize(
    "change, needle",
    [
        ("duplicate", r"lists some inputs twice and misses"),
        ("bad_sum", r"row 0 = \[2, 0, 0\] is not non-negative counts summing to k = 3"),
        ("shape", r"must be an integer array of shape \(10, 3\)"),
        ("missing", r"lacks 'counts'"),
    ],
)
def test_policy_file_with_unusable_counts_is_refused(tmp_path, change, needle):
    k, L = 3, 3
    space = CountSpace(k, L)
    counts = space.all()
    if change == "duplicate":
        counts[1] = counts[0]
    elif change == "bad_sum":
        counts[0] = [2, 0, 0]
    elif change == "shape":
        counts = counts[:, :2]
    arrays = {
        "global_table": np.zeros((2, space.size), dtype=np.int64),
        "local_table": LocalPolicy.uniform(L, 2, 2).probs,
    }
    if change != "missing":
        arrays["counts"] = counts
    path = _write_policy_file(tmp_path / "bad", _meta(k, L, 2, 2, 2, "mean-field"), **arrays)
    with pytest.raises(PolicyError, match=needle) as info:
        load_policy_dir(path)
    assert str(path) in str(info.value)  # the message names the file
