"""Laws over count vectors (``laws.py``): the hypergeometric law against subset enumeration,
the Dirichlet-multinomial's total and mean."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from altmarl.counts import CountSpace
from altmarl.laws import dirichlet_multinomial_pmf, hypergeometric_matrix


def test_hypergeometric_matches_subset_enumeration():
    n, k, L = 5, 3, 3
    H = hypergeometric_matrix(n, k, L)
    big, small = CountSpace(n, L), CountSpace(k, L)
    np.testing.assert_allclose(H.sum(1), 1.0)
    for N in big.all()[::3]:
        agents = np.repeat(np.arange(L), N)
        brute = np.zeros(small.size)
        subsets = list(itertools.combinations(range(n), k))
        for sub in subsets:
            brute[small.rank(np.bincount(agents[list(sub)], minlength=L))] += 1 / len(subsets)
        np.testing.assert_allclose(H[big.rank(N)], brute, atol=1e-12)


def test_dirichlet_multinomial_is_a_distribution_with_the_right_mean():
    space = CountSpace(6, 3)
    alpha = np.array([0.3, 1.0, 2.0])
    p = dirichlet_multinomial_pmf(space, alpha)
    assert p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(p @ space.all(), 6 * alpha / alpha.sum())
