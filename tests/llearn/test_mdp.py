"""Finite episodic MDPs: planning and evaluation against brute-force enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from altmarl.errors import AltmarlError
from altmarl.llearn.mdp import (
    EpisodicMDP,
    backward_induction,
    evaluate_policy,
    evaluate_restricted,
    occupancy,
    project_to_observations,
    sample_episodes,
)


def random_mdp(seed, S=3, A=2, H=3, time_dependent=False, reward_ndim=2, observation=None):
    rng = np.random.default_rng(seed)

    def kernel():
        P = rng.dirichlet(np.full(S, 0.7), size=S * A)
        P[P < 0.05] = 0.0  # some structural zeros, so sparsity is exercised
        return sp.csr_matrix(P / P.sum(1, keepdims=True))

    P = tuple(kernel() for _ in range(H)) if time_dependent else kernel()
    shape = {1: (S,), 2: (S, A), 3: (H, S, A)}[reward_ndim]
    return EpisodicMDP(
        P=P,
        reward=rng.random(shape),
        horizon=H,
        initial=rng.dirichlet(np.ones(S)),
        num_actions=A,
        time_weight=rng.random(H) + 0.5,
        observation=observation,
    )


def path_value(mdp: EpisodicMDP, pi: np.ndarray) -> float:
    """Expected return by summing over every trajectory (independent of the mat-vec code)."""
    S, A, H = mdp.num_states, mdp.num_actions, mdp.horizon
    P = [mdp.P_at(t).toarray().reshape(S, A, S) for t in range(H)]
    R = mdp.reward_table()
    total = 0.0
    for states in itertools.product(range(S), repeat=H):
        for acts in itertools.product(range(A), repeat=H):
            p = mdp.initial[states[0]]
            ret = 0.0
            for t in range(H):
                p *= pi[t, states[t], acts[t]]
                ret += R[t, states[t], acts[t]]
                if t + 1 < H:
                    p *= P[t][states[t], acts[t], states[t + 1]]
                if p == 0:
                    break
            total += p * ret
    return total


@pytest.mark.parametrize("time_dependent", [False, True])
@pytest.mark.parametrize("reward_ndim", [1, 2, 3])
def test_evaluation_matches_trajectory_enumeration(time_dependent, reward_ndim):
    mdp = random_mdp(1, time_dependent=time_dependent, reward_ndim=reward_ndim)
    rng = np.random.default_rng(2)
    pi = rng.dirichlet(np.ones(mdp.num_actions), size=(mdp.horizon, mdp.num_states))
    assert evaluate_policy(mdp, pi)[0] == pytest.approx(path_value(mdp, pi), rel=1e-12)


def test_backward_induction_is_the_best_deterministic_policy():
    mdp = random_mdp(3, S=2, A=2, H=3, time_dependent=True)
    V, Q, greedy = backward_induction(mdp)
    best = max(
        evaluate_policy(mdp, np.array(acts).reshape(3, 2))[0]
        for acts in itertools.product(range(2), repeat=6)
    )
    assert mdp.initial @ V[0] == pytest.approx(best, rel=1e-12)
    assert evaluate_policy(mdp, greedy)[0] == pytest.approx(best, rel=1e-12)
    assert np.allclose(V[:-1], Q.max(axis=2))


def test_restricted_policy_is_shared_across_states_with_one_observation():
    obs = np.array([0, 1, 0, -1])
    mdp = random_mdp(4, S=4, A=3, H=4, observation=obs)
    rng = np.random.default_rng(5)
    table = rng.dirichlet(np.ones(3), size=2)
    full = np.empty((4, 4, 3))
    full[:, [0, 2]] = table[0]
    full[:, 1] = table[1]
    full[:, 3] = 1.0 / 3  # no decision at observation -1: uniform
    assert evaluate_restricted(mdp, table) == pytest.approx(path_value(mdp, full), rel=1e-12)


def test_occupancy_and_projection():
    obs = np.array([0, 1, 0, -1])
    mdp = random_mdp(6, S=4, A=2, H=5, observation=obs)
    rng = np.random.default_rng(7)
    table = rng.dirichlet(np.ones(2), size=2)
    d = occupancy(mdp, mdp.restricted_to_full(table))
    assert np.allclose(d.sum(axis=(1, 2)), 1.0)
    # a policy that is already restricted projects onto itself (where observed)
    proj = project_to_observations(mdp, mdp.restricted_to_full(table))
    assert np.allclose(proj, table)
    # a mixture: at observation 0, states 0 and 2 play different actions; the projection
    # weights them by their discounted occupancy
    pol = np.zeros((5, 4), dtype=np.int64)
    pol[:, 2] = 1
    d = occupancy(mdp, pol) * mdp.time_weight[:, None, None]
    w0, w2 = d[:, 0].sum(), d[:, 2].sum()
    assert project_to_observations(mdp, pol)[0] == pytest.approx([w0 / (w0 + w2), w2 / (w0 + w2)])


def test_sampled_first_transitions_follow_the_kernel():
    mdp = random_mdp(8, S=3, A=2, H=2)
    policy = np.zeros((2, 3), dtype=np.int64)
    states, actions = sample_episodes(mdp, policy, 40_000, np.random.default_rng(9))
    assert (actions == 0).all()
    freq0 = np.bincount(states[:, 0], minlength=3) / 40_000
    # 5 standard errors of a frequency of 40k draws
    assert np.abs(freq0 - mdp.initial).max() < 5 * 0.5 / np.sqrt(40_000)
    P = mdp.P_at(0).toarray().reshape(3, 2, 3)
    exp = mdp.initial @ P[:, 0, :]
    freq1 = np.bincount(states[:, 1], minlength=3) / 40_000
    assert np.abs(freq1 - exp).max() < 5 * 0.5 / np.sqrt(40_000)


def test_bad_inputs_are_named():
    P = sp.csr_matrix(np.array([[0.5, 0.4], [0.0, 1.0]]))
    with pytest.raises(AltmarlError, match=r"row \(s=0, a=0\) sums to 0.9"):
        EpisodicMDP(P=P, reward=np.zeros(2), horizon=2, initial=[1, 0], num_actions=1)
    P = sp.csr_matrix(np.eye(2))
    with pytest.raises(AltmarlError, match="reward must have shape"):
        EpisodicMDP(P=P, reward=np.zeros(3), horizon=2, initial=[1, 0], num_actions=1)
    with pytest.raises(AltmarlError, match="horizon"):
        EpisodicMDP(P=P, reward=np.zeros(2), horizon=0, initial=[1, 0], num_actions=1)
    with pytest.raises(AltmarlError, match="initial"):
        EpisodicMDP(P=P, reward=np.zeros(2), horizon=2, initial=[0.5, 0.6], num_actions=1)
