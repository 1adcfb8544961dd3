"""Off-policy G-LEARN (``glearn/offpolicy.py``, Appendix E): Q-learning from one logged
trajectory reaches the exact fixed point; behaviours without full support are refused."""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.errors import AltmarlError
from altmarl.glearn import glearn
from altmarl.glearn.offpolicy import epsilon_greedy_behaviour, glearn_offpolicy
from altmarl.policies import GlobalPolicy
from altmarl.rewards import UniformRewardNoise
from glearn_helpers import tiny


@pytest.mark.slow
def test_offpolicy_q_learning_reaches_the_exact_fixed_point():
    """One logged trajectory (n = 20, uniform behaviour, 10^6 steps, alpha = 1/(1+v)^0.7)
    gives ||Q - Q_k||_inf <= 0.05 (values are ~6-7 here)."""
    game, local = tiny(11, S_l=2, gamma=0.8)
    k = 3
    exact = glearn(game, local, k, m=None, tol=1e-10)
    res = glearn_offpolicy(
        game, local, k, n=20, steps=1_000_000, omega=0.7, seed=1, reset_every=200
    )
    assert res.info.extra["unvisited"] == 0
    assert np.abs(res.q - exact.q).max() <= 0.05
    # stochastic rewards: same fixed point
    noisy = glearn_offpolicy(
        game,
        local,
        k,
        n=20,
        steps=300_000,
        omega=0.7,
        seed=2,
        reset_every=200,
        reward_sampler=UniformRewardNoise(0.3),
    )
    assert np.abs(noisy.q - exact.q).max() <= 0.1


def test_offpolicy_refuses_behaviour_without_full_support():
    game, local = tiny(12, S_l=2)
    greedy = GlobalPolicy.constant(0, num_global_states=2, num_actions=2, k=2, num_local_states=2)
    with pytest.raises(AltmarlError, match="cover every action"):
        glearn_offpolicy(
            game,
            local,
            2,
            n=5,
            steps=10,
            behaviour=epsilon_greedy_behaviour(greedy, 1.0) * [1.0, 0.0] * 2,
        )
    ok = epsilon_greedy_behaviour(greedy, 0.2)
    assert ok.min() == pytest.approx(0.1)
    res = glearn_offpolicy(game, local, 2, n=5, steps=2000, behaviour=ok, seed=0)
    assert res.q.shape == (2, 3, 2)
