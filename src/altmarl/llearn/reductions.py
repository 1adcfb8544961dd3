"""Reductions of Appendix C.2 (SPEC §4c).

(i) State-action rewards to state rewards by a "deciding" state (Algorithm 17):
    every step ``t`` becomes two, ``s --a--> (s, a) --any--> s' ~ P(. | s, a)``; the
    original state ``s`` earns 0 and the deciding state ``(s, a)`` earns ``r(s, a, t)``.
    Every policy keeps its value (the action at a deciding state has no effect).
(ii) Infinite-horizon discounted to fixed horizon: stopping after ``T`` macro steps
    loses at most ``gamma^T r_max / (1 - gamma)`` (Lemma C.1 / Corollary C.2).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from altmarl.errors import AltmarlError
from altmarl.llearn.mdp import EpisodicMDP


def truncation_bound(gamma: float, r_max: float, T: int) -> float:
    """Lemma C.1: ``|V - V_T| <= gamma^T r_max / (1 - gamma)`` for any policy."""
    _check_gamma(gamma)
    return float(gamma**T * r_max / (1.0 - gamma))


def truncation_horizon(gamma: float, r_max: float, eps: float) -> int:
    """Smallest ``T >= 1`` with ``gamma^T r_max / (1 - gamma) <= eps`` (Corollary C.2)."""
    _check_gamma(gamma)
    if not eps > 0:
        raise AltmarlError(f"eps = {eps} must be > 0 (the truncation error target)")
    if r_max <= 0:
        return 1
    T = math.ceil(math.log(eps * (1.0 - gamma) / r_max) / math.log(gamma))
    T = max(T, 1)
    while truncation_bound(gamma, r_max, T) > eps:  # guard the float rounding of the log
        T += 1
    return T


def _check_gamma(gamma: float) -> None:
    if not 0.0 < gamma < 1.0:
        raise AltmarlError(f"gamma = {gamma} must lie in (0, 1)")


def state_reward_mdp(mdp: EpisodicMDP) -> EpisodicMDP:
    """Algorithm 17: the equivalent MDP with state-only rewards and horizon ``2H``.

    States ``0..S-1`` are the original ones (reward 0); state ``S + s * A + a`` is the
    deciding state ``(s, a)`` (reward ``r(s, a, t)`` at step ``2t + 1``, observation -1).
    """
    S, A, H = mdp.num_states, mdp.num_actions, mdp.horizon
    S2 = S + S * A
    decide = sp.csr_matrix(
        (np.ones(S * A), (np.arange(S * A), S + np.arange(S * A))), shape=(S * A, S2)
    )

    def lift(P: sp.csr_matrix) -> sp.csr_matrix:
        # every action b at deciding state (s, a) draws s' ~ P(. | s, a)
        onward = sp.csr_matrix(P)
        onward = sp.hstack([onward, sp.csr_matrix((S * A, S * A))], format="csr")
        return sp.vstack([decide, onward[np.repeat(np.arange(S * A), A)]], format="csr")

    # Deciding states read the step-t kernel at step 2t + 1, so a time-dependent kernel
    # becomes 2H matrices (the even ones only route to deciding states).
    if mdp.stationary:
        P2: sp.csr_matrix | tuple[sp.csr_matrix, ...] = lift(mdp.P_at(0))
    else:
        P2 = tuple(lift(mdp.P_at(t // 2)) for t in range(2 * H))
    obs = None
    if mdp.observation is not None:
        obs = np.concatenate([mdp.observation, np.full(S * A, -1, np.int64)])
    initial = np.concatenate([mdp.initial, np.zeros(S * A)])
    if mdp.reward.ndim == 3:
        reward = np.zeros((2 * H, S2, A))
        reward[1::2, S:, :] = mdp.reward.reshape(H, S * A)[:, :, None]
    else:
        r = np.broadcast_to(mdp.reward[:, None], (S, A)) if mdp.reward.ndim == 1 else mdp.reward
        reward = np.concatenate([np.zeros(S), r.ravel()])
    tw = np.zeros(2 * H)
    tw[1::2] = 1.0 if mdp.time_weight is None else mdp.time_weight
    return EpisodicMDP(
        P=P2,
        reward=reward,
        horizon=2 * H,
        initial=initial,
        num_actions=A,
        time_weight=tw,
        observation=obs,
        num_observations=mdp.num_observations,
        name=mdp.name + "+alg17",
    )


def lift_policy(policy: np.ndarray, mdp: EpisodicMDP) -> np.ndarray:
    """A policy ``[H, S, A]`` of ``mdp`` as ``[2H, S + S A, A]`` on its Algorithm-17 MDP."""
    S, A, H = mdp.num_states, mdp.num_actions, mdp.horizon
    pi = mdp.as_probabilities(policy)
    out = np.full((2 * H, S + S * A, A), 1.0 / A)
    out[0::2, :S] = pi
    return out


def unlift_policy(policy: np.ndarray, mdp: EpisodicMDP) -> np.ndarray:
    """Inverse of :func:`lift_policy`: ``[2H, S + S A, A]`` or int ``[2H, S + S A]`` to
    ``[H, S, A]``."""
    S, A = mdp.num_states, mdp.num_actions
    pol = np.asarray(policy)
    if pol.ndim == 2:
        pol = np.eye(A)[pol]
    return pol[0::2, :S].astype(np.float64)
