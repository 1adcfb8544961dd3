from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from altmarl.counts import CountSpace, TupleSpace, random_tuples
from altmarl.errors import AltmarlError, MemoryBudgetError


@pytest.mark.parametrize(
    "k, L", [(0, 1), (0, 4), (5, 1), (1, 5), (4, 2), (6, 3), (5, 5), (30, 5), (3, 8)]
)
def test_rank_unrank_bijection(k, L):
    space = CountSpace(k, L)
    assert space.size == math.comb(k + L - 1, L - 1)
    allc = space.all()
    assert allc.shape == (space.size, L)
    assert (allc >= 0).all() and (allc.sum(1) == k).all()
    assert len({tuple(c) for c in allc}) == space.size  # injective, hence bijective
    np.testing.assert_array_equal(space.rank(allc), np.arange(space.size))
    # all() walks the bar positions; unrank() bisects them: two routes, one list
    np.testing.assert_array_equal(allc, space.unrank(np.arange(space.size)))


def test_rank_matches_brute_force_enumeration_set():
    k, L = 4, 3
    brute = {c for c in itertools.product(range(k + 1), repeat=L) if sum(c) == k}
    space = CountSpace(k, L)
    assert {tuple(c) for c in space.all()} == brute


@pytest.mark.parametrize("k, L", [(4, 3), (3, 5), (6, 2), (2, 6)])
def test_rank_is_the_documented_combinatorial_number_system(k, L):
    """The rank order is a file format (policy.npz columns, q.npy rows): it must stay the
    module docstring's ``rank(c) = sum_j binom(b_j, j + 1)`` with ``b_j = c_0 + ... + c_j + j``,
    computed here by hand, not any other bijection."""
    space = CountSpace(k, L)
    for c in itertools.product(range(k + 1), repeat=L):
        if sum(c) != k:
            continue
        bars = [sum(c[: j + 1]) + j for j in range(L - 1)]
        want = sum(math.comb(b, j + 1) for j, b in enumerate(bars))
        assert int(space.rank(np.array(c))) == want, c
        np.testing.assert_array_equal(space.unrank(want), c)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.integers(1, 7), st.data())
def test_round_trip_random_vectors(k, L, data):
    space = CountSpace(k, L)
    ranks = data.draw(st.lists(st.integers(0, space.size - 1), min_size=1, max_size=20))
    c = space.unrank(np.array(ranks))
    np.testing.assert_array_equal(space.rank(c), ranks)
    assert (c.sum(-1) == k).all()


def test_large_space_without_tables():
    space = CountSpace(1000, 5)  # ~4.2e10 vectors: rank/unrank still work
    c = np.array([[1000, 0, 0, 0, 0], [0, 0, 0, 0, 1000], [200, 200, 200, 200, 200]])
    r = space.rank(c)
    np.testing.assert_array_equal(space.unrank(r), c)
    assert r.max() < space.size


def test_memory_refusal_names_the_table():
    space = CountSpace(50, 5)
    space.require_table(5 * 5, 8, "Q table")  # 316,251 x 25 x 8 B fits
    with pytest.raises(MemoryBudgetError, match=r"Q table over C_k \(k=200, \|S_l\|=10.*GiB"):
        CountSpace(200, 10).require_table(25, 8, "Q table")
    with pytest.raises(MemoryBudgetError, match="budget"):
        space.require_table(25, 8, "Q table", budget=1000)
    with pytest.raises(AltmarlError, match="k = -1"):
        CountSpace(-1, 3)


def test_tuple_space():
    ts = TupleSpace(3, 2)
    assert ts.size == 8
    np.testing.assert_array_equal(ts.index(ts.all()), np.arange(8))
    np.testing.assert_array_equal(ts.tuples(5), [1, 0, 1])
    np.testing.assert_array_equal(ts.counts(5), [1, 2])
    with pytest.raises(MemoryBudgetError, match="mean-field"):
        TupleSpace(100, 5)


def test_random_tuples_is_a_uniform_ordering():
    rng = np.random.default_rng(0)
    counts = np.tile([2, 1], (30000, 1))
    t = random_tuples(counts, rng)
    assert ((t == 0).sum(1) == 2).all()
    # 3 distinct orderings of {0, 0, 1}, each with probability 1/3
    idx = TupleSpace(3, 2).index(t)
    freq = np.bincount(idx, minlength=8)[[1, 2, 4]] / len(idx)
    assert np.abs(freq - 1 / 3).max() < 4 * np.sqrt(2 / 9 / len(idx))
