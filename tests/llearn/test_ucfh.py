"""UCFH (SPEC §4d): confidence sets, FixedHorizonEVI, and PAC behaviour on small MDPs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from altmarl.errors import AltmarlError
from altmarl.llearn.mdp import EpisodicMDP, backward_induction, evaluate_policy
from altmarl.llearn.ucfh import (
    ModelSimulator,
    confidence_delta1,
    confidence_intervals,
    extreme_transition,
    fixed_horizon_evi,
    pessimistic_value,
    theory_knownness_threshold,
    ucfh,
)


def river_swim(S: int = 5, H: int = 8, p: float = 0.7) -> EpisodicMDP:
    """A chain where exploration matters: 'left' pays 0.05 at once in state 0, 'right'
    drifts (prob p) toward the far end that pays 1 per step."""
    P = np.zeros((S, 2, S))
    r = np.zeros((S, 2))
    for s in range(S):
        P[s, 0, max(s - 1, 0)] = 1.0
        if s < S - 1:
            P[s, 1, s + 1], P[s, 1, s] = p, 1 - p
        else:
            P[s, 1, s] = 1.0
    r[0, 0] = 0.05
    r[S - 1] = 1.0
    return EpisodicMDP(
        P=sp.csr_matrix(P.reshape(S * 2, S)),
        reward=r,
        horizon=H,
        initial=np.eye(S)[0],
        num_actions=2,
    )


def random_mdp(seed: int, S: int = 4, A: int = 2, H: int = 4) -> EpisodicMDP:
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(S, 0.5), size=S * A)
    return EpisodicMDP(
        P=sp.csr_matrix(P),
        reward=rng.random((S, A)),
        horizon=H,
        initial=np.eye(S)[0],
        num_actions=A,
    )


def test_confidence_interval_hand_computed():
    L = 3.0
    lo, up = confidence_intervals(np.array([10.0]), np.array([[3.0, 7.0]]), L)
    p = 0.3
    hoeff = math.sqrt(L / 20)
    bern = math.sqrt(p * (1 - p)) * math.sqrt(2 * L / 10) + 7 * L / 27
    w = min(hoeff, bern)
    s_lo = max(0.0, math.sqrt(p * (1 - p)) - math.sqrt(2 * L / 9))
    half = math.sqrt(1 - 4 * s_lo**2) / 2
    assert lo[0, 0] == pytest.approx(max(0.0, p - w, 0.5 - half))
    assert up[0, 0] == pytest.approx(min(1.0, p + w, 0.5 + half))
    # one sample or none: the whole unit interval
    lo, up = confidence_intervals(np.array([0.0, 1.0]), np.array([[0.0, 0.0], [1.0, 0.0]]), L)
    assert (lo == 0).all() and (up == 1).all()


def test_confidence_intervals_contain_the_estimate_and_shrink():
    rng = np.random.default_rng(0)
    n = rng.integers(2, 5000, 200).astype(float)
    p = rng.dirichlet(np.ones(4), size=200)
    counts = np.round(p * n[:, None])
    n = counts.sum(1)
    lo, up = confidence_intervals(n, counts, 8.0)
    phat = counts / n[:, None]
    assert (lo <= phat + 1e-15).all() and (phat <= up + 1e-15).all()
    assert (lo.sum(1) <= 1 + 1e-12).all() and (up.sum(1) >= 1 - 1e-12).all()
    lo2, up2 = confidence_intervals(4 * n, 4 * counts, 8.0)
    assert ((up2 - lo2) <= (up - lo) + 1e-12).all()


def test_extreme_transition_solves_the_inner_linear_program():
    rng = np.random.default_rng(1)
    for _ in range(20):
        S = 5
        p = rng.dirichlet(np.ones(S))
        w = rng.random(S) * 0.3
        lo, up = np.clip(p - w, 0, 1), np.clip(p + w, 0, 1)
        V = rng.random(S)
        q = extreme_transition(lo[None], up[None], np.argsort(-V))[0]
        assert q.sum() == pytest.approx(1.0) and (q >= lo - 1e-12).all() and (q <= up + 1e-12).all()
        lp = linprog(-V, A_eq=np.ones((1, S)), b_eq=[1.0], bounds=list(zip(lo, up, strict=True)))
        assert q @ V == pytest.approx(-lp.fun, abs=1e-9)


def test_theory_knownness_threshold_formula():
    S, A, H, eps, delta = 10, 3, 8, 0.5, 0.05
    d1 = delta / (2 * S**2 * A * H * math.log2(4 * S**2 * H**2 / eps))
    want = 512 * math.log2(math.log2(H)) ** 2 * S * H**3 * math.log(8 * H**2 * S**2 / eps) ** 2
    want *= math.log(3 / d1)
    assert confidence_delta1(S, A, H, eps, delta) == pytest.approx(d1)
    assert theory_knownness_threshold(S, A, H, eps, delta) == pytest.approx(want)


@pytest.mark.parametrize("pool_time", [False, True])
@pytest.mark.parametrize("make", [river_swim, lambda: random_mdp(0), lambda: random_mdp(5)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ucfh_is_eps_optimal_and_optimistic(make, seed, pool_time):
    mdp = make()
    eps = 0.3
    V, _, _ = backward_induction(mdp)
    v_star = float(mdp.initial @ V[0])
    res = ucfh(mdp, eps=eps, delta=0.1, max_episodes=200_000, seed=seed, pool_time=pool_time)
    assert res.certified and res.episodes < 200_000
    assert res.samples == res.episodes * mdp.horizon
    v_pi = evaluate_policy(mdp, res.policy)[0]
    assert v_pi >= v_star - eps
    # the optimistic value bounds the optimum; the pessimistic one bounds the policy
    assert res.v_optimistic >= v_star - 1e-9
    assert res.v_pessimistic <= v_pi + 1e-9
    assert res.v_optimistic - res.v_pessimistic <= eps


def test_ucfh_explores_the_river():
    """Without exploration the 0.05 in state 0 looks best; UCFH must find the far end."""
    mdp = river_swim()
    res = ucfh(mdp, eps=0.3, max_episodes=200_000, seed=3, pool_time=True)
    assert res.policy[0, 0] == 1  # swim right at the start
    assert evaluate_policy(mdp, res.policy)[0] > 5 * 0.05 * mdp.horizon  # 5x the myopic return


class StepOnly:
    """A simulator with only reset/step (the generic path of UCFH)."""

    def __init__(self, mdp):
        self.inner = ModelSimulator(mdp)

    def reset(self, rng):
        return self.inner.reset(rng)

    def step(self, s, a, t, rng):
        return self.inner.step(s, a, t, rng)


def test_ucfh_learns_from_a_step_simulator():
    mdp = random_mdp(2, S=3, H=3)
    V, _, _ = backward_induction(mdp)
    res = ucfh(mdp, StepOnly(mdp), eps=0.3, max_episodes=50_000, seed=4, pool_time=True)
    assert res.certified
    assert evaluate_policy(mdp, res.policy)[0] >= mdp.initial @ V[0] - 0.3


def test_ucfh_is_reproducible_and_validates():
    mdp = random_mdp(3)
    a = ucfh(mdp, eps=0.3, seed=7)
    b = ucfh(mdp, eps=0.3, seed=7)
    assert a.episodes == b.episodes and np.array_equal(a.policy, b.policy)
    with pytest.raises(AltmarlError, match="eps"):
        ucfh(mdp, eps=0)
    with pytest.raises(AltmarlError, match="delta"):
        ucfh(mdp, eps=0.1, delta=1.5)
    with pytest.raises(AltmarlError, match="knownness"):
        ucfh(mdp, eps=0.1, knownness=0)
    # the scale-factor route: m = ceil(scale * theory m)
    th = theory_knownness_threshold(4, 2, 4, 0.3, 0.1)
    res = ucfh(mdp, eps=0.3, knownness_scale=1e-7, max_episodes=10)
    assert res.knownness == max(1, math.ceil(1e-7 * th)) and res.episodes <= 10


@pytest.mark.parametrize("pooled", [False, True])
def test_fixed_horizon_evi_matches_the_row_by_row_reference(pooled):
    rng = np.random.default_rng(6)
    H, S, A = 4, 5, 3
    reward = rng.random((H, S, A))
    shape = (S, A) if pooled else (H, S, A)
    n = rng.integers(0, 30, shape).astype(float)
    counts = np.stack([rng.multinomial(int(m), np.ones(S) / S) for m in n.ravel()]).reshape(
        *shape, S
    )
    lo, up = confidence_intervals(n, counts, 2.0)
    V, Q = fixed_horizon_evi(reward, lo, up, pooled)
    policy = rng.integers(0, A, (H, S))
    Vp = pessimistic_value(reward, lo, up, pooled, policy)
    Vr = np.zeros((H + 1, S))
    Vpr = np.zeros((H + 1, S))
    for t in range(H - 1, -1, -1):
        lt, ut = (lo, up) if pooled else (lo[t], up[t])
        p = extreme_transition(lt.reshape(-1, S), ut.reshape(-1, S), np.argsort(-Vr[t + 1]))
        Qt = reward[t] + (p @ Vr[t + 1]).reshape(S, A)
        assert np.allclose(Q[t], Qt)
        Vr[t] = Qt.max(axis=1)
        rows = np.arange(S) * A + policy[t]
        pp = extreme_transition(
            lt.reshape(-1, S)[rows], ut.reshape(-1, S)[rows], np.argsort(Vpr[t + 1])
        )
        Vpr[t] = reward[t, np.arange(S), policy[t]] + pp @ Vpr[t + 1]
    assert np.allclose(V, Vr) and np.allclose(Vp, Vpr)
    assert (Vp <= V + 1e-12).all()
