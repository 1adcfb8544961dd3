"""Subsampling (``simulate/subsample.py``, Floyd): uniform without replacement, multivariate
hypergeometric counts."""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

from altmarl.counts import CountSpace
from altmarl.laws import hypergeometric_matrix
from altmarl.simulate import subsample_counts, subsample_indices


def test_subsample_is_uniform_without_replacement():
    rng = np.random.default_rng(1)
    idx = subsample_indices(5, 2, 60000, rng)
    assert (idx[:, 0] != idx[:, 1]).all() and idx.min() >= 0 and idx.max() < 5
    pairs = np.sort(idx, axis=1) @ [5, 1]
    freq = np.bincount(pairs, minlength=25)
    observed = freq[[5 * a + b for a, b in itertools.combinations(range(5), 2)]]
    assert observed.sum() == 60000
    assert stats.chisquare(observed).pvalue > 1e-4


def test_subsample_counts_are_multivariate_hypergeometric():
    rng = np.random.default_rng(2)
    N = np.array([3, 0, 2, 1])
    draws = subsample_counts(np.tile(N, (40000, 1)), 3, rng)
    space = CountSpace(3, 4)
    observed = np.bincount(space.rank(draws), minlength=space.size)
    expected = hypergeometric_matrix(6, 3, 4)[CountSpace(6, 4).rank(N)] * 40000
    support = expected > 0
    assert observed[~support].sum() == 0
    assert stats.chisquare(observed[support], expected[support]).pvalue > 1e-4
