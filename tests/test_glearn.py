from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from altmarl.counts import CountSpace, TupleSpace
from altmarl.errors import AltmarlError, MemoryBudgetError
from altmarl.exact import exact_value, optimal_global_value
from altmarl.game import TabularGame
from altmarl.glearn import (
    GLearnOracle,
    empirical_adapted_bellman,
    exact_adapted_bellman,
    glearn,
    greedy_policy,
    surrogate_reward,
    value_iteration,
)
from altmarl.glearn import operator as glearn_operator
from altmarl.glearn.anderson import Anderson
from altmarl.glearn.offpolicy import epsilon_greedy_behaviour, glearn_offpolicy
from altmarl.glearn.operator import tiled_order
from altmarl.glearn.oracle import glearn_bytes
from altmarl.glearn.sampling import _destinations, sample_mean_field_common
from altmarl.glearn.value_iteration import _Sweeper, max_over_actions
from altmarl.oracles import GlobalOracle
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.policy_dir import load_policy_dir
from altmarl.rewards import BernoulliRewards, UniformRewardNoise
from altmarl.scenarios import random_game, warehouse
from altmarl.theory import bellman_noise_bound, best_response_gap, q_table_size


def tiny(seed=0, S_g=2, A_g=2, S_l=3, A_l=2, gamma=0.8):
    game = random_game(
        seed,
        num_global_states=S_g,
        num_global_actions=A_g,
        num_local_states=S_l,
        num_local_actions=A_l,
        gamma=gamma,
    )
    rng = np.random.default_rng(100 + seed)
    local = LocalPolicy(rng.dirichlet(np.ones(A_l), size=(S_l, S_g)))
    return game, local


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


def test_standard_and_mean_field_fixed_points_agree():
    game, local = tiny(2, S_l=3)
    k = 4
    mf = glearn(game, local, k, m=None, tol=1e-11)
    sd = glearn(game, local, k, m=None, tol=1e-11, parameterization="standard")
    ts = TupleSpace(k, game.num_sl)
    ranks = CountSpace(k, game.num_sl).rank(ts.counts(np.arange(ts.size)))
    np.testing.assert_allclose(sd.q, mf.q[:, ranks], atol=1e-9)
    # greedy policies agree wherever the argmax is unique
    gap = np.sort(mf.q, axis=-1)[..., -1] - np.sort(mf.q, axis=-1)[..., -2]
    unique = gap[:, ranks] > 1e-6
    assert np.array_equal(sd.policy.table[unique], mf.policy.table[:, ranks][unique])
    assert mf.info.table_size == q_table_size(k, 2, 2, 3) and sd.info.table_size == 2 * 2 * 81


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


def test_empirical_error_shrinks_with_m_within_lemma_4_3():
    """||Qhat_{k,m} - Q_k||_inf over 12 seeds x 2 sampling schemes at m = 10 and 1000.

    Binding check: the error falls like 1/sqrt(m), so 100x the samples divides the mean
    error by 10. Each 24-run mean has a relative standard error of ~11%, so ln(ratio / 10)
    has a standard error of ~0.16; we accept ratio in [5, 20], |ln(ratio / 10)| <= ln 2,
    about 4.5 standard errors (false-failure rate ~1e-5). A biased operator (an error
    floor) or one that ignores part of its samples breaks this.

    Non-binding (kept to check the direction of theory.bellman_noise_bound): Lemma 4.3 at
    confidence 1 - delta = 0.9, at most 2 of 12 seeds per scheme above it. Its bound is
    22.4 at m = 10, above the whole value range r_max / (1 - gamma) = 9.7, and 2.2 at
    m = 1000, ~150x the largest error seen (0.015)."""
    game, local = tiny(4)
    k, delta = 3, 0.1
    exact = glearn(game, local, k, m=None, tol=1e-10).q
    Z = exact.size
    means = {}
    for m in (10, 1000):
        errs = []
        for seed in range(12):
            for sampling in ("common", "independent"):
                res = glearn(game, local, k, m=m, seed=seed, tol=1e-10, sampling=sampling)
                errs.append(np.abs(res.q - exact).max())
        bound = bellman_noise_bound(m, delta, gamma=game.gamma, r_max=game.r_max, table_entries=Z)
        assert np.sum(np.array(errs) > bound) <= 2 * 2  # non-binding, see the docstring
        means[m] = float(np.mean(errs))
    assert 5 <= means[10] / means[1000] <= 20  # binding: the 1/sqrt(m) rate


@pytest.mark.parametrize("num_global_states", [2, 5, 11])
def test_sweep_kernel_matches_reference_apply(num_global_states):
    # 11 global states: V rows are two 8-wide blocks (the kernel sums block by block)
    game, local = tiny(5, S_g=num_global_states, A_g=3)
    op = empirical_adapted_bellman(game, local, 4, 17, seed=1)
    rng = np.random.default_rng(0)
    q_in = rng.uniform(0, 3, op.shape)
    q = q_in.copy()
    vt = np.ascontiguousarray(q.max(axis=-1).T)
    out = np.empty_like(vt)
    q_lo, q_hi, v_lo, v_hi = _Sweeper(op, q)(vt, out)
    ref = op.apply(q_in)
    np.testing.assert_allclose(q, ref, atol=1e-12)
    np.testing.assert_allclose(out, ref.max(axis=-1).T, atol=1e-12)
    assert q_lo == pytest.approx((ref - q_in).min()) and q_hi == pytest.approx((ref - q_in).max())
    d = ref.max(axis=-1).T - vt
    assert v_lo == pytest.approx(d.min()) and v_hi == pytest.approx(d.max())
    # without write_q the same G(V) comes out and Q is left alone
    q2 = q_in.copy()
    out2 = np.empty_like(vt)
    _, _, v_lo2, v_hi2 = _Sweeper(op, q2)(vt, out2, write_q=False)
    np.testing.assert_array_equal(q2, q_in)
    np.testing.assert_array_equal(out2, out)
    assert (v_lo2, v_hi2) == (v_lo, v_hi)
    # visiting count space tile by tile changes nothing but the order of the work
    order = tiled_order(op.space.all(), tile=1)
    assert not np.array_equal(order, np.arange(order.size))
    tiled = dataclasses.replace(op, sweep_order=order)
    out3 = np.empty_like(vt)
    assert _Sweeper(tiled, q_in.copy())(vt, out3, write_q=False)[2:] == (v_lo, v_hi)
    np.testing.assert_array_equal(out3, out)


def test_float32_sweep_is_exact_for_the_rounded_iterate():
    """A float32 sweep gathers V - offset rounded to float32 (offset: the midrange of V),
    overwrites V by that rounded iterate, and returns G of it, with G(V) - V measured on
    it: exactly what the span rule's certificate needs (it holds for any V)."""
    game, local = tiny(5, S_g=3, A_g=3)
    op = empirical_adapted_bellman(game, local, 4, 17, seed=1)
    rng = np.random.default_rng(1)
    vt = rng.uniform(4e3, 5e3, op.shape[1::-1])  # large values: the rounding is visible
    offset = (vt.min() + vt.max()) / 2
    rounded = (vt - offset).astype(np.float32).astype(np.float64) + offset
    assert np.abs(rounded - vt).max() > 1e-6
    sweep = _Sweeper(op, np.zeros(op.shape))
    v_in, out = vt.copy(), np.empty_like(vt)
    _, _, lo, hi = sweep(v_in, out, write_q=False, single=True)
    np.testing.assert_array_equal(v_in, rounded)
    g = op.apply(rounded.T[..., None]).max(axis=-1).T  # G(V) by the reference route
    np.testing.assert_allclose(out, g, rtol=0, atol=1e-9)
    assert lo == pytest.approx((g - rounded).min(), abs=1e-9)
    assert hi == pytest.approx((g - rounded).max(), abs=1e-9)
    assert sweep.rounding == pytest.approx(2.0**-24 * (vt.max() - vt.min()) / 2)


def test_common_sampler_follows_its_definition():
    """next_index[s, c, j] is the rank of the count vector of the destinations of the first
    c_i common draws of every bin i (sampling.py's definition), for the run-by-run kernel,
    at every number of local states (one bin, two bins: one run; more: many runs)."""
    for k, L in ((3, 1), (6, 2), (5, 3), (7, 5)):
        game, local = tiny(20 + L, S_l=L)
        p_bar, _ = game.averaged_local(local.probs)
        space, m, S = CountSpace(k, L), 3, game.num_sg
        nxt = sample_mean_field_common(space, p_bar, m, np.random.default_rng(4))
        dest = _destinations(p_bar, np.random.default_rng(4), (S, m, L, k))
        counts = space.all()
        expect = np.empty_like(nxt)
        for s, x, j in itertools.product(range(S), range(space.size), range(m)):
            moved = [np.bincount(dest[s, j, i, : counts[x, i]], minlength=L) for i in range(L)]
            expect[s, x, j] = space.rank(np.sum(moved, axis=0))
        np.testing.assert_array_equal(nxt, expect)


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


@pytest.mark.parametrize("seed, gamma", [(7, 0.9), (8, 0.98)])
@pytest.mark.parametrize("stopping", ["span", "certified", "residual"])
def test_stopping_rules_certify_their_error_bound(stopping, seed, gamma):
    """The returned Q is within the reported error bound of the fixed point (computed
    by plain value iteration to 1e-13), including Anderson-accelerated span stopping."""
    game, local = tiny(seed, gamma=gamma)
    op = empirical_adapted_bellman(game, local, 4, 20, seed=3)
    q_star, _ = value_iteration(op, tol=1e-13, stopping="residual", max_iterations=10**5)
    q, info = value_iteration(op, tol=1e-4, stopping=stopping)
    assert info["converged"]
    err = np.abs(q - q_star).max()
    assert err <= info["error_bound"] + 1e-10
    if stopping != "residual":
        assert info["error_bound"] <= 1e-4
    # warm start at the fixed point: done almost at once
    _, warm = value_iteration(op, tol=1e-6, q0=q_star, stopping=stopping)
    assert warm["iterations"] <= 2


def test_mixed_precision_is_certified_and_ends_in_double():
    """precision="mixed": float32 gathers while the span is far above their rounding, then
    float64. At tol = 1e-9 on values of order 1e3 the float32 rounding (~1e-5) is far
    above what the certificate needs, so the iteration must switch to float64; the
    certified bound holds against the fixed point either way."""
    game, local = tiny(7, gamma=0.9)
    big = TabularGame.from_arrays(
        P_g=game.P_g, P_l=game.P_l, r_g=1e3 * game.r_g, r_l=1e3 * game.r_l, gamma=game.gamma
    )
    op = empirical_adapted_bellman(big, local, 4, 20, seed=3)
    q_star, _ = value_iteration(op, tol=1e-9, stopping="residual", max_iterations=10**5)
    for tol in (1e-9, 1e-2):
        q, info = value_iteration(op, tol=tol, precision="mixed")
        assert info["converged"] and np.abs(q - q_star).max() <= info["error_bound"] + 1e-8
        assert info["float32_sweeps"] > 0
        if tol == 1e-9:
            assert info["float32_sweeps"] < info["iterations"] - 3
    _, double = value_iteration(op, tol=1e-9, precision="double")
    assert double["float32_sweeps"] == 0
    # a small table: "auto" stays in float64
    assert value_iteration(op, tol=1e-9)[1]["float32_sweeps"] == 0
    with pytest.raises(AltmarlError, match="precision"):
        value_iteration(op, precision="half")


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


def test_anderson_step_solves_its_least_squares_problem():
    """Type-II Anderson mixing (the fused kernels): x+ = g - sum_l a_l dg_l with a minimising
    ||f - sum_l a_l df_l||_2 (plus the ridge) over the last `depth` differences of centred
    residuals f = g(x) - x - mean and images g, stored as float32 (so the ring buffer and
    the incremental Gram matrix are checked). Replayed with numpy on a linear map; only the
    order of the sums differs."""
    rng = np.random.default_rng(0)
    n, depth = 400, 3
    M = rng.normal(0, 0.9 / np.sqrt(n), (n, n))
    b = rng.normal(size=n)
    acc = Anderson(depth, n)
    x = rng.normal(size=n)
    hist: list[tuple[np.ndarray, np.ndarray]] = []
    f_prev = g_prev = None
    for _ in range(8):
        g = M @ x + b
        f = g - x - (g - x).mean()
        if f_prev is not None:
            df = (f - f_prev).astype(np.float32).astype(np.float64)
            dg = (g - g_prev).astype(np.float32).astype(np.float64)
            hist = [*hist, (df, dg)][-depth:]
        f_prev, g_prev = f, g
        if hist:
            DF = np.array([h[0] for h in hist])
            DG = np.array([h[1] for h in hist])
            gram = DF @ DF.T
            ridge = 1e-12 * max(1.0, np.trace(gram))
            coef = np.linalg.solve(gram + ridge * np.eye(len(hist)), DF @ f)
            expect = g - coef @ DG
        else:
            expect = g
        out = np.empty(n)
        acc.step(x, g, out)
        np.testing.assert_allclose(out, expect, rtol=1e-9, atol=1e-9)
        x = out


def test_anderson_zero_is_plain_value_iteration_with_the_span_rule():
    """value_iteration(anderson=0) iterates V <- G(V) from 0 with no mixing and stops by the
    span rule: replayed here with the reference operator (op.apply), the same sweeps give
    the same Q. Anderson mixing (the default) takes a different path to the fixed point."""
    game, local = tiny(7, gamma=0.9)
    op = empirical_adapted_bellman(game, local, 4, 20, seed=3)
    tol = 1e-6
    beta = game.gamma / (1 - game.gamma)

    def q_of(v):  # Q(V) = r + gamma P_g E V(next); op.apply reads V as max_a of one column
        return op.apply(v[..., None])

    v, sweeps = np.zeros(op.shape[:2]), 0
    while True:
        sweeps += 1
        g = q_of(v).max(axis=-1)
        d = g - v
        if game.gamma * beta * (d.max() - d.min()) / 2 <= tol:
            q_ref = q_of(g + beta * (d.max() + d.min()) / 2)
            sweeps += 1
            break
        v = g
    q, info = value_iteration(op, tol=tol, stopping="span", anderson=0)
    assert info["converged"] and info["iterations"] == sweeps
    np.testing.assert_allclose(q, q_ref, rtol=0, atol=1e-9)
    q_star, _ = value_iteration(op, tol=1e-13, stopping="residual", max_iterations=10**5)
    assert np.abs(q - q_star).max() <= info["error_bound"] + 1e-12
    _, mixed = value_iteration(op, tol=tol, stopping="span")
    assert mixed["iterations"] < sweeps


def test_max_iterations_reports_not_converged():
    game, local = tiny(7, gamma=0.9)
    res = glearn(game, local, 3, m=5, tol=1e-9, max_iterations=2, stopping="residual")
    assert not res.info.converged and res.info.iterations == 2


# ------------------------------------------------------------------- greedy (eq. 20)


def test_greedy_policy_matches_the_array_reference():
    """The one-pass kernel gives the same table as eq. 20 written with array reductions
    (maximum, the tie set, first tied action, seeded keys for the multi-way ties)."""
    rng = np.random.default_rng(3)
    q = rng.integers(0, 3, size=(3, 500, 4)) + rng.uniform(0, 1e-10, size=(3, 500, 4))
    tie_tol, seed = 1e-9, 21
    best = q.max(axis=-1, keepdims=True)
    tied = q >= best - tie_tol
    expect = np.argmax(tied, axis=-1)
    multi = tied.sum(axis=-1) > 1
    keys = np.random.default_rng(seed).random((int(multi.sum()), q.shape[-1]))
    keys[~tied[multi]] = -1.0
    expect[multi] = np.argmax(keys, axis=-1)
    assert 0.3 < multi.mean() < 0.9
    np.testing.assert_array_equal(greedy_policy(q, seed, tie_tol=tie_tol), expect)
    np.testing.assert_array_equal(max_over_actions(q), best[..., 0])


def test_greedy_policy_breaks_ties_uniformly_and_reproducibly():
    q = np.zeros((2, 3000, 3))
    q[1, :, 2] = 1.0  # unique argmax in s_g = 1
    a = greedy_policy(q, 11)
    assert np.array_equal(a, greedy_policy(q, 11))
    assert not np.array_equal(a, greedy_policy(q, 12))
    assert np.all(a[1] == 2)
    freq = np.bincount(a[0], minlength=3) / 3000
    assert np.all(np.abs(freq - 1 / 3) < 4 * np.sqrt(2 / 9 / 3000))
    # ties only among the maximal actions
    q2 = np.array([[[1.0, 3.0, 3.0 - 1e-12]]])
    assert {int(greedy_policy(q2, s)[0, 0]) for s in range(40)} == {1, 2}


def test_glearn_is_reproducible_and_oracle_conforms():
    game, local = tiny(8)
    a = glearn(game, local, 3, m=6, seed=4)
    b = GLearnOracle(m=6).best_response(game, local, 3, seed=4)
    assert np.array_equal(a.q, b.q) and np.array_equal(a.policy.table, b.policy.table)
    assert isinstance(GLearnOracle(), GlobalOracle)
    c = glearn(game, local, 3, m=6, seed=5)
    assert not np.array_equal(a.q, c.q)
    assert isinstance(a.policy, GlobalPolicy) and a.policy.k == 3
    assert a.info.samples == 2 * 10 * 6 and a.info.seconds > 0


@pytest.mark.parametrize(
    "kwargs, exc, needle",
    [
        ({"k": 0}, AltmarlError, "k = 0"),
        ({"m": 0}, AltmarlError, "m = 0"),
        ({"tol": 0.0}, AltmarlError, "tol"),
        ({"parameterization": "tuples"}, AltmarlError, "parameterization"),
        ({"stopping": "never"}, AltmarlError, "stopping"),
        ({"sampling": "lhs"}, AltmarlError, "sampling"),
        ({"k": 40, "parameterization": "standard"}, MemoryBudgetError, "S_l|\\^k"),
        ({"k": 20, "parameterization": "standard"}, MemoryBudgetError, "memory budget"),
        ({"q0": np.zeros((1, 1, 1))}, AltmarlError, "q0 must have shape"),
    ],
)
def test_bad_input_is_refused_clearly(kwargs, exc, needle):
    game, local = tiny(9)
    kw = {"k": 3, "m": 4, **kwargs}
    k = kw.pop("k")
    with pytest.raises(exc, match=needle):
        glearn(game, local, k, **kw)


# ------------------------------------------------------------ stochastic rewards (F)


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


# ---------------------------------------------------------------- off-policy (App. E)


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


# --------------------------------------------------- online execution (Theorem 4.4)


def test_online_value_within_theory_bound_of_full_information_optimum():
    """Online execution (exact, n = 6) of G-LEARN's policy vs the full-information optimum.

    Binding checks (exact values, round-off tolerance only): the full-information optimum
    bounds every feasible policy's value; on this game the best dispatch depends on the
    population, so subsampling costs value for k < n; at k = n (the subsample is the
    population) G-LEARN with the exact operator attains the optimum.

    Regression on this game (seed 17), not a theorem: the loss at k = 1 exceeds the loss
    at k = 3 (0.144 vs 0.020). The loss need not fall monotonically with k (0.011 at
    k = 4, 0.013 at k = 5).

    Non-binding: Theorem 4.4's bound is 320-1000 here while values lie in
    [0, r_max / (1 - gamma)] = [0, 13.9]; the check only guards its direction."""
    game, local = tiny(17, S_g=3, A_g=3, S_l=2, gamma=0.9)
    n = 6
    v_opt = optimal_global_value(game, local, n)
    loss = {}
    for k, m in ((1, None), (3, None), (3, 50)):
        res = glearn(game, local, k, m=m, seed=0, tol=1e-9)
        v = exact_value(game, res.policy, local, n, k)
        assert v <= v_opt + 1e-9  # binding
        loss[k, m] = v_opt - v
        q_error = res.info.error_bound
        if m is not None:
            q_error += bellman_noise_bound(
                m, 0.05, gamma=game.gamma, r_max=game.r_max, table_entries=res.q.size
            )
        bound = best_response_gap(
            k,
            n,
            gamma=game.gamma,
            r_max=game.r_max,
            num_local_states=2,
            num_global_actions=3,
            q_error=q_error,
        )
        assert loss[k, m] <= bound  # non-binding (bound > value range)
    assert min(loss.values()) > 1e-3  # binding: k < n loses value on this game
    assert loss[1, None] > loss[3, None]  # regression (seed 17)
    res = glearn(game, local, n, m=None, tol=1e-11)
    assert exact_value(game, res.policy, local, n, n) == pytest.approx(v_opt, abs=1e-8)


# ------------------------------------------------------------------------------- CLI


def test_cli_glearn_json(cli_json):
    out = cli_json("glearn", "--scenario", "warehouse", "--k", "4", "--m", "10", "--seed", "1")
    for key in ("iterations", "table_size", "samples", "seconds", "residual", "value_mean"):
        assert key in out
    assert out["table_size"] == 5 * 70 * 5 and out["samples"] == 5 * 70 * 10
    assert out["converged"] and 20 <= out["value_mean"] <= 11.5 / 0.05


def test_cli_glearn_out_files(tmp_path, cli, cli_json):
    game = random_game(0, num_local_states=3)
    game.to_npz(tmp_path / "g.npz")
    d = tmp_path / "pol"
    out = cli_json(
        "glearn",
        "--game",
        str(tmp_path / "g.npz"),
        "--k",
        "3",
        "--m",
        "exact",
        "--out",
        str(d),
        "--tol",
        "1e-9",
    )
    assert out["samples"] == 0 and out["m"] == "exact"
    q = np.load(d / "q.npy")
    assert q.shape == (2, 10, 2)
    assert q.max(axis=-1).mean() == pytest.approx(out["value_mean"])
    with np.load(d / "policy.npz") as z:
        assert set(z.files) >= {"global_table", "local_table", "counts"}
        np.testing.assert_array_equal(z["counts"], CountSpace(3, 3).all())
        np.testing.assert_array_equal(z["global_table"], q.argmax(axis=-1))
    meta = json.loads((d / "meta.json").read_text())
    assert meta["k"] == 3 and meta["parameterization"] == "mean-field"
    pair = load_policy_dir(d, game)
    assert np.allclose(pair.local_policy.probs, 0.5)
    # the learned local policy dir can be fed back as --local-policy-dir
    code, _, err = cli(
        "glearn", "--game", str(tmp_path / "g.npz"), "--k", "2", "--local-policy-dir", str(d)
    )
    assert code == 0, err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--k", "0"], "--k"),
        (["--k", "3", "--m", "0"], "--m"),
        (["--k", "30", "--parameterization", "standard"], "k"),
        (["--k", "3", "--local-policy-dir", "/nonexistent"], "--local-policy-dir"),
    ],
)
def test_cli_glearn_bad_input_exits_2(cli, argv, needle):
    code, out, err = cli("glearn", "--scenario", "warehouse", *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_glearn_refuses_over_the_memory_budget_before_allocating(monkeypatch):
    """The whole call's footprint (operator, value iteration, greedy policy) is checked
    before anything is built: k = 100 on the warehouse (|C_k| = 4,598,126) needs about
    5.8 GiB and fits the default 8 GiB budget; k = 130 does not; a 1 GiB budget refuses
    k = 100 at once, naming the call and the amount."""
    game = warehouse()
    local = LocalPolicy.uniform(5, 5, 3)
    need = {k: glearn_bytes(CountSpace(k, 5).size, 5, 5, 5, 30) for k in (100, 130)}
    assert 5 * 2**30 < need[100] < 6 * 2**30 < 8 * 2**30 < need[130]
    with pytest.raises(MemoryBudgetError, match=r"G-LEARN \(k=130, \|X\|=12840751, m=30\)"):
        glearn(game, local, 130)
    monkeypatch.setenv("ALTMARL_MEMORY_BUDGET_GB", "1")
    gib = need[100] / 2**30
    with pytest.raises(MemoryBudgetError, match=rf"k=100, .* {gib:.3g} GiB, over .* 1 GiB"):
        glearn(game, local, 100)


def test_cli_glearn_memory_budget(cli, monkeypatch):
    monkeypatch.setenv("ALTMARL_MEMORY_BUDGET_GB", "0.001")
    code, _, err = cli("glearn", "--scenario", "warehouse", "--k", "20")
    assert code == 2 and "memory budget" in err and "k=20" in err
