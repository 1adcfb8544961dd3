"""The adapted Bellman operators (``glearn/operator.py``, SPEC §3): T_k against brute-force
expectation, the sampled next states against the exact law, the contraction, the tiled
large-table path."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from altmarl.counts import CountSpace
from altmarl.glearn import empirical_adapted_bellman, exact_adapted_bellman, value_iteration
from altmarl.glearn import operator as glearn_operator
from altmarl.glearn.operator import tiled_order
from altmarl.policies import LocalPolicy
from altmarl.scenarios import warehouse
from glearn_helpers import tiny

# ------------------------------------------------------------------ exact operator


def brute_force_apply(game, local, k, q, parameterization):
    """T_k Q by enumerating every next joint state (s_g', s_1', ..., s_k') (SPEC §3)."""
    S, A, L = game.num_sg, game.num_ag, game.num_sl
    pi, Pl, rl = local.probs, game.P_l, game.r_l
    pbar = np.zeros((L, S, L))
    rbar = np.zeros((L, S))
    for x, s, a in itertools.product(range(L), range(S), range(game.num_al)):
        pbar[x, s] += pi[x, s, a] * Pl[x, s, a]
        rbar[x, s] += pi[x, s, a] * rl[x, s, a]
    cs = CountSpace(k, L)

    def col(states):
        if parameterization == "standard":
            return sum(int(v) * L ** (k - 1 - i) for i, v in enumerate(states))
        return int(cs.rank(np.bincount(states, minlength=L)))

    if parameterization == "standard":
        inputs = list(itertools.product(range(L), repeat=k))
    else:  # one representative tuple per count vector, in rank order
        inputs = [tuple(np.repeat(np.arange(L), c)) for c in cs.all()]
    out = np.zeros_like(q)
    for s in range(S):
        for xi, states in enumerate(inputs):
            assert col(states) == xi
            expect = np.zeros(S)  # E[max_a' Q(s', x', a')] for each s'
            for nxt in itertools.product(range(L), repeat=k):
                p = np.prod([pbar[states[i], s, nxt[i]] for i in range(k)])
                expect += p * q[:, col(nxt), :].max(axis=-1)
            for a in range(A):
                r = game.r_g[s, a] + sum(rbar[v, s] for v in states) / k
                out[s, xi, a] = r + game.gamma * game.P_g[s, a] @ expect
    return out


@pytest.mark.parametrize("parameterization", ["mean-field", "standard"])
def test_exact_operator_equals_brute_force_expectation(parameterization):
    game, local = tiny(1)
    k = 3
    op = exact_adapted_bellman(game, local, k, parameterization=parameterization)
    rng = np.random.default_rng(7)
    q = rng.uniform(0, 5, size=op.shape)
    np.testing.assert_allclose(
        op.apply(q), brute_force_apply(game, local, k, q, parameterization), rtol=0, atol=1e-12
    )
    assert np.allclose(op.transition.sum(axis=-1), 1.0, atol=1e-12)


# -------------------------------------------------------------- empirical operator


@pytest.mark.parametrize("sampling", ["common", "independent"])
@pytest.mark.parametrize("parameterization", ["mean-field", "standard"])
def test_sampled_next_states_follow_the_exact_law(sampling, parameterization):
    """Each entry's m samples are i.i.d. draws from T_k's next-state law: Pearson's
    chi-square per entry stays under its 1 - 1e-4 quantile (Bonferroni over entries)."""
    game, local = tiny(3)
    k, m = 3, 4000
    ex = exact_adapted_bellman(game, local, k, parameterization=parameterization)
    op = empirical_adapted_bellman(
        game, local, k, m, parameterization=parameterization, seed=5, sampling=sampling
    )
    S, X = game.num_sg, ex.shape[1]
    for s in range(S):
        for x in range(X):
            observed = np.bincount(op.next_index[s, x], minlength=X)
            p = ex.transition[s, x]
            assert observed[p == 0].sum() == 0
            stat = ((observed - m * p)[p > 0] ** 2 / (m * p[p > 0])).sum()
            assert stat <= chi2.ppf(1 - 1e-4 / (S * X), df=int((p > 0).sum()) - 1)
    assert op.samples == game.num_sg * X * m


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 100.0), exact=st.booleans())
def test_operator_is_a_gamma_contraction(seed, scale, exact):
    game, local = tiny(6, gamma=0.85)
    op = (
        exact_adapted_bellman(game, local, 3)
        if exact
        else empirical_adapted_bellman(game, local, 3, 7, seed=seed % 1000)
    )
    rng = np.random.default_rng(seed)
    q1 = rng.normal(0, scale, op.shape)
    q2 = q1 + rng.normal(0, scale, op.shape) * (rng.random(op.shape) < 0.5)
    lhs = np.abs(op.apply(q1) - op.apply(q2)).max()
    assert lhs <= game.gamma * np.abs(q1 - q2).max() + 1e-9 * scale


def test_large_table_path_agrees_with_the_small_table_path(monkeypatch):
    """Above LARGE_TABLE_BYTES (lowered here so that k = 12 qualifies) the operator carries
    a tiled sweep order and value iteration gathers float32 values first; the answer
    agrees with float64 rank-order iteration within the two certified bounds, and the
    greedy policies agree wherever the best action leads by more than both bounds."""
    game = warehouse()
    local = LocalPolicy.uniform(5, 5, 3)
    size = CountSpace(12, 5).size
    assert empirical_adapted_bellman(game, local, 12, 3, seed=0).sweep_order is None
    monkeypatch.setattr(glearn_operator, "LARGE_TABLE_BYTES", size * 5 * 8 - 1)
    op = empirical_adapted_bellman(game, local, 12, 30, seed=0)
    np.testing.assert_array_equal(op.sweep_order, tiled_order(op.space.all()))
    q_auto, auto = value_iteration(op, tol=1e-4)
    q_ref, ref = value_iteration(dataclasses.replace(op, sweep_order=None), tol=1e-4)
    assert auto["float32_sweeps"] > 0 and ref["float32_sweeps"] == 0
    bound = auto["error_bound"] + ref["error_bound"]
    assert np.abs(q_auto - q_ref).max() <= bound
    top = np.sort(q_ref, axis=-1)
    clear = top[..., -1] - top[..., -2] > 2 * bound
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(q_auto.argmax(-1)[clear], q_ref.argmax(-1)[clear])
