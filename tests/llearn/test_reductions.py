"""The reductions of C.2 (``llearn/reductions.py``): Algorithm 17's state rewards and the
truncation horizon (Lemma C.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from altmarl.errors import AltmarlError
from altmarl.llearn.mdp import EpisodicMDP, backward_induction, evaluate_policy
from altmarl.llearn.reductions import (
    lift_policy,
    state_reward_mdp,
    truncation_bound,
    truncation_horizon,
    unlift_policy,
)


def small_mdp(seed, time_dependent=False, reward_ndim=2):
    rng = np.random.default_rng(seed)
    S, A, H = 3, 2, 3

    def kern():
        return sp.csr_matrix(rng.dirichlet(np.ones(S), size=S * A))

    return EpisodicMDP(
        P=tuple(kern() for _ in range(H)) if time_dependent else kern(),
        reward=rng.random({2: (S, A), 3: (H, S, A)}[reward_ndim]),
        horizon=H,
        initial=rng.dirichlet(np.ones(S)),
        num_actions=A,
        time_weight=0.9 ** np.arange(H),
        observation=np.array([0, 1, 0]),
    )


@pytest.mark.parametrize("time_dependent", [False, True])
@pytest.mark.parametrize("reward_ndim", [2, 3])
def test_algorithm_17_preserves_every_policy_value(time_dependent, reward_ndim):
    mdp = small_mdp(20, time_dependent, reward_ndim)
    lifted = state_reward_mdp(mdp)
    assert lifted.horizon == 2 * mdp.horizon
    R = lifted.reward_table()
    # state rewards: no action dependence, and the original states earn nothing
    assert np.allclose(R, R[:, :, :1]) and np.allclose(R[:, : mdp.num_states], 0)
    rng = np.random.default_rng(21)
    for _ in range(5):
        pi = rng.dirichlet(np.ones(2), size=(3, 3))
        assert evaluate_policy(lifted, lift_policy(pi, mdp))[0] == pytest.approx(
            evaluate_policy(mdp, pi)[0], rel=1e-12
        )
        # the action at a deciding state has no effect
        noisy = lift_policy(pi, mdp)
        noisy[1::2] = rng.dirichlet(np.ones(2), size=noisy[1::2].shape[:2])
        assert evaluate_policy(lifted, noisy)[0] == pytest.approx(evaluate_policy(mdp, pi)[0])
    V, _, greedy = backward_induction(lifted)
    V0, _, _ = backward_induction(mdp)
    assert lifted.initial @ V[0] == pytest.approx(mdp.initial @ V0[0], rel=1e-12)
    assert evaluate_policy(mdp, unlift_policy(greedy, mdp))[0] == pytest.approx(
        mdp.initial @ V0[0], rel=1e-12
    )


def test_truncation_error_within_lemma_c1_bound():
    rng = np.random.default_rng(22)
    S, A, gamma = 4, 2, 0.8
    P = rng.dirichlet(np.ones(S), size=(S, A))
    r = rng.random((S, A))
    pi = rng.dirichlet(np.ones(A), size=S)
    P_pi = np.einsum("sa,sam->sm", pi, P)
    r_pi = (pi * r).sum(1)
    v_inf = np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi)
    init = np.full(S, 1 / S)
    for T in (1, 3, 10):
        mdp = EpisodicMDP(
            P=sp.csr_matrix(P.reshape(S * A, S)),
            reward=r,
            horizon=T,
            initial=init,
            num_actions=A,
            time_weight=gamma ** np.arange(T),
        )
        err = init @ v_inf - evaluate_policy(mdp, pi)[0]
        assert 0 <= err <= truncation_bound(gamma, r.max(), T)
    # the bound is attained by a constant reward r_max
    mdp = EpisodicMDP(
        P=sp.csr_matrix(P.reshape(S * A, S)),
        reward=np.ones((S, A)),
        horizon=7,
        initial=init,
        num_actions=A,
        time_weight=gamma ** np.arange(7),
    )
    err = 1 / (1 - gamma) - evaluate_policy(mdp, pi)[0]
    assert err == pytest.approx(truncation_bound(gamma, 1.0, 7), rel=1e-12)


@pytest.mark.parametrize(
    ("gamma", "r_max", "eps"), [(0.9, 2.0, 0.5), (0.95, 11.5, 0.01), (0.5, 1, 3)]
)
def test_truncation_horizon_is_the_smallest_sufficient_T(gamma, r_max, eps):
    T = truncation_horizon(gamma, r_max, eps)
    assert truncation_bound(gamma, r_max, T) <= eps
    if T > 1:
        assert truncation_bound(gamma, r_max, T - 1) > eps
    assert T == max(1, math.ceil(math.log(eps * (1 - gamma) / r_max) / math.log(gamma)))
    with pytest.raises(AltmarlError, match="eps"):
        truncation_horizon(gamma, r_max, 0.0)
