"""The common-random-number simulator (``simulate/crn.py``): its law against the exact count
chain, and the coupling properties UPDATE's sequential test relies on."""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.counts import CountSpace, TupleSpace
from altmarl.errors import AltmarlError
from altmarl.exact import exact_value
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.scenarios import random_game, warehouse
from altmarl.simulate.crn import _binomial_q, crn_returns, rollout_keys


def _pairs(game, k, seed):
    rng = np.random.default_rng(seed)
    L, S, A = game.num_sl, game.num_sg, game.num_ag
    mf = GlobalPolicy(rng.integers(0, A, size=(S, CountSpace(k, L).size)), k, L, A)
    std = GlobalPolicy(rng.integers(0, A, size=(S, TupleSpace(k, L).size)), k, L, A, "standard")
    pl = LocalPolicy(rng.dirichlet(np.ones(game.num_al), size=(L, S)))
    return [(mf, pl), (std, pl)]


@pytest.mark.slow
@pytest.mark.parametrize(
    "game, n, k",
    [(warehouse(num_zones=3), 6, 2), (random_game(1), 7, 3), (warehouse(num_zones=3), 30, 4)],
)
def test_returns_have_the_exact_chain_mean(game, n, k):
    """Mean of 10,000 rollouts within 4.5 standard errors of the exact finite-horizon value,
    for a mean-field and a (stochastic) standard dispatcher, with a fixed (random_game) and a
    Dirichlet (warehouse) initial law: a false failure has probability < 1e-5 per check."""
    H = 30
    pairs = _pairs(game, k, n)
    ret = crn_returns(game, pairs, n=n, k=k, horizon=H, seed=11, stop=10_000)
    for row, pair in zip(ret, pairs, strict=True):
        se = row.std(ddof=1) / np.sqrt(row.size)
        assert abs(row.mean() - exact_value(game, *pair, n, k, horizon=H)) <= 4.5 * se


def test_binomial_by_mode_search_is_exact():
    """One uniform per draw: the empirical law of 200,000 draws matches Binomial(N, q)
    (chi-square over cells with expected count >= 5 below its 99.99% quantile), and the
    map from the uniform to the draw is deterministic."""
    from scipy import stats

    lf = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, 61)))))
    rng = np.random.default_rng(0)
    for N, q in ((60, 0.3), (60, 0.93), (5, 0.5), (1, 0.2)):
        u = rng.random(200_000)
        draws = np.array([_binomial_q(N, q, x, lf) for x in u])
        assert _binomial_q(N, q, u[0], lf) == draws[0]
        observed = np.bincount(draws, minlength=N + 1)
        expected = stats.binom.pmf(np.arange(N + 1), N, q) * u.size
        keep = expected >= 5
        chi2 = (((observed - expected) ** 2 / expected)[keep]).sum()
        assert chi2 <= stats.chi2.ppf(0.9999, keep.sum() - 1), (N, q, chi2)


def test_rollouts_depend_only_on_the_seed_and_their_index():
    """Batches extend a sample consistently, a pair's returns do not depend on the other
    pairs of the call, and the same seed gives the same numbers."""
    game, n, k = warehouse(), 200, 3
    mode = CountSpace(k, 5).all().argmax(axis=1)
    a = (GlobalPolicy(np.tile(mode, (5, 1)), k, 5, 5), LocalPolicy.uniform(5, 5, 3))
    b = (a[0], LocalPolicy.deterministic(np.zeros((5, 5), dtype=int), 3))
    seed = np.random.SeedSequence([4, 2])
    whole = crn_returns(game, [a, b], n=n, k=k, horizon=25, seed=seed, stop=12)
    parts = [
        crn_returns(game, [b, a], n=n, k=k, horizon=25, seed=seed, start=s, stop=s + 4)
        for s in (0, 4, 8)
    ]
    np.testing.assert_array_equal(np.hstack(parts)[::-1], whole)
    alone = crn_returns(game, [a], n=n, k=k, horizon=25, seed=seed, stop=12)
    np.testing.assert_array_equal(alone[0], whole[0])
    other = crn_returns(
        game, [a], n=n, k=k, horizon=25, seed=np.random.SeedSequence([4, 3]), stop=12
    )
    assert not np.array_equal(other[0], whole[0])
    keys = rollout_keys(seed, 0, 12)
    assert len(set(keys.tolist())) == 12 and np.array_equal(rollout_keys(seed, 4, 8), keys[4:8])


def test_common_random_numbers_shrink_the_variance_of_a_difference():
    """Two nearby pairs (one dispatcher entry changed) on the same rollouts differ far less
    than on independent rollouts: the paired difference's variance is below a tenth of
    the sum of the two variances (observed 0.055; the numpy counts simulator run twice from
    one seed, the coupling UPDATE had before issue #12, gives 0.17)."""
    game, n, k = warehouse(), 1000, 5
    rng = np.random.default_rng(3)
    table = rng.integers(0, 5, size=(5, CountSpace(k, 5).size))
    other = table.copy()
    other[0, :50] = (other[0, :50] + 1) % 5
    pl = LocalPolicy.uniform(5, 5, 3)
    pairs = [(GlobalPolicy(t, k, 5, 5), pl) for t in (table, other)]
    ret = crn_returns(game, pairs, n=n, k=k, horizon=60, seed=5, stop=400)
    assert (ret[1] - ret[0]).var() < 0.1 * (ret[0].var() + ret[1].var())


def test_bad_arguments_are_refused():
    game = warehouse()
    pair = _pairs(game, 2, 0)[0]
    with pytest.raises(AltmarlError, match="k = 3"):
        crn_returns(game, [pair], n=10, k=3, horizon=5, seed=0, stop=2)
    with pytest.raises(AltmarlError, match="start"):
        crn_returns(game, [pair], n=10, k=2, horizon=5, seed=0, start=3, stop=2)
