from __future__ import annotations

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
from altmarl.glearn import (
    GLearnOracle,
    empirical_adapted_bellman,
    exact_adapted_bellman,
    glearn,
    greedy_policy,
    surrogate_reward,
    value_iteration,
)
from altmarl.glearn.offpolicy import epsilon_greedy_behaviour, glearn_offpolicy
from altmarl.glearn.value_iteration import _Sweeper
from altmarl.oracles import GlobalOracle
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.policy_dir import load_policy_dir
from altmarl.rewards import BernoulliRewards, UniformRewardNoise
from altmarl.scenarios import random_game
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


def test_cli_glearn_memory_budget(cli, monkeypatch):
    monkeypatch.setenv("ALTMARL_MEMORY_BUDGET_GB", "0.001")
    code, _, err = cli("glearn", "--scenario", "warehouse", "--k", "20")
    assert code == 2 and "memory budget" in err and "k=20" in err
