"""Stochastic reward samplers (``rewards.py``, Appendix F) in the sampled operator: unbiased,
within Hoeffding."""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.counts import CountSpace
from altmarl.glearn import empirical_adapted_bellman, surrogate_reward
from altmarl.rewards import BernoulliRewards, UniformRewardNoise
from glearn_helpers import tiny


def _draw_variance(sampler, mean):
    """Variance of one reward draw with the given mean, from the samplers' documented laws."""
    if isinstance(sampler, UniformRewardNoise):
        return np.minimum(sampler.width, mean) ** 2 / 3  # mean + U(-h, h)
    return mean * (sampler.scale - mean)  # scale * Bernoulli(mean / scale)


@pytest.mark.parametrize("sampler", [UniformRewardNoise(0.4), BernoulliRewards(1.0)])
def test_sampled_rewards_are_unbiased_and_within_hoeffding(sampler):
    """Definition F.2's sampled reward of each entry is a mean of m independent draws with
    mean r_Delta: the m global draws at (s_g, a_g) and, for each of the k agents, m draws
    of (a ~ pi_l, reward). Its variance is therefore known exactly:
    Var = v_g(s_g, a_g) / m + sum_i c_i v_l(i, s_g) / (k^2 m).

    Unbiasedness, tight: the mean error over 30 independent operators, per entry, in units
    of its exact standard error (0.002-0.005 here), |z| <= 5.3 over the 40 entries
    (Bonferroni: false-failure rate < 1e-5). A bias of 0.03 is 6-13 standard errors.
    The Appendix F Hoeffding guarantee (delta = 0.01) is checked on one operator; it is
    ~0.2 wide on these [0, 1]-scale rewards, so it alone would pass such biases."""
    game, local = tiny(10)
    k, m, delta, R = 3, 400, 0.01, 30
    space = CountSpace(k, game.num_sl)
    _, rbar = game.averaged_local(local.probs)
    r_true = surrogate_reward(game, rbar, space)
    rg_max, rl_max = sampler.bounds(game)
    # exact variance of each entry's sampled reward
    v_g = _draw_variance(sampler, game.r_g)  # [S_g, A_g]
    v_la = _draw_variance(sampler, game.r_l)  # [S_l, S_g, A_l]
    v_l = (local.probs * (v_la + game.r_l**2)).sum(-1) - rbar**2  # [S_l, S_g], a ~ pi_l
    var = v_g[:, None, :] / m + (space.all() @ v_l).T[:, :, None] / (k**2 * m)
    errors = []
    for seed in range(R):
        op = empirical_adapted_bellman(game, local, k, m, seed=seed, reward_sampler=sampler)
        errors.append(op.reward - r_true)
    hoeffding = (rg_max + rl_max) * np.sqrt(np.log(2 * r_true.size / delta) / (2 * m))
    assert np.abs(errors[0]).max() <= hoeffding
    z = np.mean(errors, axis=0) / np.sqrt(var / R)
    assert np.abs(z).max() <= 5.3, np.abs(z).max()
    # draws are bounded and non-negative, with the right mean
    rng = np.random.default_rng(0)
    d = sampler.sample_local(game, 1, 0, 1, rng, 20000)
    assert d.min() >= 0 and d.max() <= rl_max
    assert abs(d.mean() - game.r_l[1, 0, 1]) < 5 * d.std() / np.sqrt(d.size)
