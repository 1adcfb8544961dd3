"""UPDATE's value estimates (``alternating/evaluators.py``): rollouts under common random
numbers, truncation bias and its horizon."""

from __future__ import annotations

import numpy as np
import pytest

from alternating_helpers import GAME, K, _pg
from altmarl.alternating.evaluators import horizon_for_bias, truncation_tails
from altmarl.policies import LocalPolicy
from altmarl.scenarios import warehouse


def test_rollout_evaluator_uses_common_random_numbers():
    """UPDATE compares pairs under common random numbers: every pair is estimated from the
    same seed, so a pair's estimate does not depend on which pairs share the call or their
    order, and the same pair twice gives the same number (not two independent draws)."""
    from altmarl.alternating import RolloutEvaluator

    ev = RolloutEvaluator(n=40, k=K, rollouts=25, horizon=15)
    pl = LocalPolicy(np.random.default_rng(0).dirichlet(np.ones(3), size=(5, 5)))
    a, b = (_pg(1), pl), (_pg(3), pl)
    seed = np.random.SeedSequence([7, 3])
    twice = ev.estimate(GAME, [a, a], seed)
    assert twice[0] == twice[1] and twice[0].stderr > 0
    ab = ev.estimate(GAME, [a, b], seed)
    ba = ev.estimate(GAME, [b, a], seed)
    assert ab == ba[::-1] and ab[0] == twice[0]
    assert ev.estimate(GAME, [a], np.random.SeedSequence([7, 4]))[0] != twice[0]


def test_truncation_bias_and_its_horizon():
    game = warehouse()
    tail, bias = truncation_tails(game, 100)
    r_span = game.r_l.max() - game.r_l.min()  # r_g = 1 everywhere
    assert bias == pytest.approx(0.95**100 * r_span / 0.05)
    assert tail == pytest.approx(0.95**100 * (1 + game.r_l.max()) / 0.05)
    assert bias <= 0.95**100 * game.r_max / 0.05  # never above gamma^H r_max / (1 - gamma)
    h = horizon_for_bias(game, 0.0625)
    assert truncation_tails(game, h)[1] <= 0.0625 < truncation_tails(game, h - 1)[1]
