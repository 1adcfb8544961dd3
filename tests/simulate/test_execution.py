"""Online execution (``simulate/execution.py``): the two simulators against each other and
against the exact chain."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from altmarl.counts import CountSpace
from altmarl.errors import AltmarlError
from altmarl.exact import exact_value
from altmarl.game import TabularGame
from altmarl.policies import GlobalPolicy, LocalPolicy, UniformGlobalPolicy
from altmarl.scenarios import random_game, warehouse
from altmarl.simulate import evaluate

# Mean comparisons use |diff| <= Z * stderr; with the fixed seeds below a correct
# simulator fails such a check with probability < 1e-5 per comparison.
Z = 4.5


def _mode_policy(k: int, L: int = 5) -> GlobalPolicy:
    """Dispatcher that steers to the sample's mode (a non-trivial pi_g)."""
    counts = CountSpace(k, L).all()
    return GlobalPolicy(np.tile(counts.argmax(1), (L, 1)), k, L, L)


def _local_policy(seed: int) -> LocalPolicy:
    return LocalPolicy(np.random.default_rng(seed).dirichlet(np.ones(3), size=(5, 5)))


def test_huge_population_counts_simulator():
    g = warehouse()
    res = evaluate(
        g, _mode_policy(10), _local_policy(0), n=10**9, k=10, rollouts=50, horizon=100, seed=3
    )
    assert np.isfinite(res.returns).all()
    assert 0 <= res.returns.min() and res.returns.max() <= g.value_bound


@pytest.mark.parametrize("simulator", ["counts", "agents"])
def test_same_seed_same_output(simulator):
    g = warehouse()

    def run(seed: int, record: bool = False):
        return evaluate(
            g,
            _mode_policy(4),
            _local_policy(1),
            n=300,
            k=4,
            rollouts=7,
            horizon=20,
            seed=seed,
            simulator=simulator,
            record=record,
        )

    a, b = run(11, record=True), run(11, record=True)
    np.testing.assert_array_equal(a.returns, b.returns)
    np.testing.assert_array_equal(a.occupancy, b.occupancy)
    c = run(12)
    assert not np.array_equal(a.returns, c.returns)


def test_agents_simulator_batches_do_not_change_the_law():
    from altmarl.simulate import AgentSimulator

    g = warehouse()
    small = AgentSimulator(batch_agents=200)  # one rollout per batch
    res = evaluate(
        g,
        _mode_policy(3),
        _local_policy(2),
        n=200,
        k=3,
        rollouts=600,
        horizon=20,
        seed=4,
        simulator=small,
    )
    ref = evaluate(
        g, _mode_policy(3), _local_policy(2), n=200, k=3, rollouts=600, horizon=20, seed=5
    )
    assert abs(res.mean - ref.mean) <= Z * math.hypot(res.stderr, ref.stderr)


@pytest.mark.parametrize("n", [50, 1000])
def test_simulators_agree_in_distribution(n):
    """Mean return and per-step zone occupancy agree between the two simulators."""
    g = warehouse()
    kw = dict(n=n, k=5, rollouts=1500, horizon=30, record=True)
    a = evaluate(g, _mode_policy(5), _local_policy(3), seed=21, simulator="agents", **kw)
    c = evaluate(g, _mode_policy(5), _local_policy(3), seed=22, simulator="counts", **kw)
    assert abs(a.mean - c.mean) <= Z * math.hypot(a.stderr, c.stderr)
    assert stats.ks_2samp(a.returns, c.returns).pvalue > 1e-4
    # per-step occupancy: H x L means; 5.5 sigma keeps the family-wise error < 1e-5
    m_a, m_c = a.occupancy.mean(0), c.occupancy.mean(0)
    se = np.sqrt(a.occupancy.var(0, ddof=1) / 1500 + c.occupancy.var(0, ddof=1) / 1500)
    assert (np.abs(m_a - m_c) <= 5.5 * se + 1e-12).all()
    for r in (a, c):
        np.testing.assert_allclose(r.occupancy.sum(-1), 1.0)
        expected_mode = np.argmax(r.occupancy, axis=-1)
        np.testing.assert_array_equal(r.population_mode, expected_mode)
        assert 0.0 <= r.mode_mismatch_rate <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["counts", "agents"])
@pytest.mark.parametrize(
    "case",
    ["mean-field", "standard", "uniform-dispatcher", "dirichlet"],
)
def test_tiny_game_matches_exact_count_chain(simulator, case):
    """n <= 4: Monte-Carlo mean return equals the exact expectation on the count chain."""
    L = 3
    game = random_game(
        7, num_global_states=2, num_global_actions=2, num_local_states=L, num_local_actions=2
    )
    if case == "dirichlet":
        from altmarl.game import TabularGame

        game = TabularGame.from_arrays(
            P_g=game.P_g,
            P_l=game.P_l,
            r_g=game.r_g,
            r_l=game.r_l,
            gamma=game.gamma,
            rho_g=game.rho_g,
            dirichlet_alpha=[0.3, 1.0, 2.0],
        )
    rng = np.random.default_rng(8)
    n, k, H = 4, 2, 25
    pl = LocalPolicy(rng.dirichlet(np.ones(2), size=(L, 2)))
    if case == "standard":
        from altmarl.counts import TupleSpace

        pg = GlobalPolicy(rng.integers(0, 2, size=(2, TupleSpace(k, L).size)), k, L, 2, "standard")
    elif case == "uniform-dispatcher":
        pg = UniformGlobalPolicy(2)
    else:
        pg = GlobalPolicy(rng.integers(0, 2, size=(2, CountSpace(k, L).size)), k, L, 2)
    exact = exact_value(game, pg, pl, n, k, horizon=H)
    res = evaluate(game, pg, pl, n=n, k=k, rollouts=40000, horizon=H, seed=9, simulator=simulator)
    assert abs(res.mean - exact) <= Z * res.stderr, (res.mean, exact, res.stderr)


def _chasing_game(flip: tuple[float, float], follow: float) -> TabularGame:
    """Agents chase the global state, which keeps changing: under ``a_g`` the global state
    flips with probability ``flip[a_g]``; an agent moves to the current ``s_g`` with
    probability ``follow`` (whatever it does) and earns 1 where ``s_l = s_g``. Moving with
    the CURRENT ``s_g`` (SPEC §1) leaves the agents one step behind, so they rarely
    earn; moving with the NEXT ``s_g`` would put them on target almost every step."""
    P_g = np.empty((2, 2, 2))
    for a, p in enumerate(flip):
        P_g[:, a] = [[1 - p, p], [p, 1 - p]]
    P_l = np.empty((2, 2, 2, 2))
    for g in range(2):
        P_l[:, g, :, g] = follow
        P_l[:, g, :, 1 - g] = 1 - follow
    r_l = np.zeros((2, 2, 2))
    r_l[[0, 1], [0, 1], :] = 1.0
    r_l[:, :, 1] += 0.1  # action 1 earns a little more, so pi_l matters
    return TabularGame.from_arrays(
        P_g=P_g,
        P_l=P_l,
        r_g=np.array([[0.2, 0.0], [0.0, 0.3]]),
        r_l=r_l,
        gamma=0.9,
        rho_g=[0.7, 0.3],
        rho_l=[0.4, 0.6],
    )


@pytest.mark.parametrize("simulator", ["counts", "agents"])
def test_locals_move_with_the_current_global_state_by_hand(simulator):
    """Deterministic chase: s_g flips every step and every agent moves to the current s_g,
    so from t = 1 on no agent is on target. The value is the t = 0 reward, by hand:
    sum_g rho_g(g) (r_g(g, a) + rho_l(g) + 0.1 P(a_l = 1)) with a constant dispatcher, and
    gamma^t r_g(s_g(t), a) afterwards. Moving with the next s_g would add ~ 9 to it,
    which also pins the exact chain (tested against Monte Carlo below) to SPEC §1."""
    game = _chasing_game(flip=(1.0, 1.0), follow=1.0)
    n, k, H = 5, 2, 60
    pg = GlobalPolicy.constant(1, num_global_states=2, num_actions=2, k=k, num_local_states=2)
    pl = LocalPolicy(np.full((2, 2, 2), 0.5))
    rho_g, r_g1 = np.array([0.7, 0.3]), game.r_g[:, 1]
    # s_g(t) = s_g(0) for even t, 1 - s_g(0) for odd t
    global_part = sum(
        game.gamma**t * (rho_g @ r_g1 if t % 2 == 0 else rho_g[::-1] @ r_g1) for t in range(H)
    )
    by_hand = global_part + rho_g @ [0.4, 0.6] + 0.1 * 0.5 * sum(game.gamma**t for t in range(H))
    assert exact_value(game, pg, pl, n, k, horizon=H) == pytest.approx(by_hand, abs=1e-12)
    res = evaluate(game, pg, pl, n=n, k=k, rollouts=1000, horizon=H, seed=3, simulator=simulator)
    assert abs(res.mean - by_hand) <= Z * res.stderr, (res.mean, by_hand, res.stderr)


@pytest.mark.parametrize("simulator", ["counts", "agents"])
@pytest.mark.parametrize("dispatcher", ["mean-field", "uniform"])
def test_chasing_game_matches_exact_count_chain(simulator, dispatcher):
    """Exact vs Monte Carlo where s_g changes at most steps (flip probability 0.85/0.6) and
    the local kernel depends strongly on s_g: the value under the next-s_g law is ~ 4 higher,
    hundreds of standard errors, for either dispatcher (the warehouse-like tiny game above
    sees that bug at ~7-11 standard errors, and not at all with the uniform dispatcher).
    |z| < 4.5: false-failure rate ~7e-6."""
    game = _chasing_game(flip=(0.85, 0.6), follow=0.8)
    n, k, H = 4, 2, 40
    rng = np.random.default_rng(4)
    pl = LocalPolicy(rng.dirichlet(np.ones(2), size=(2, 2)))
    if dispatcher == "uniform":
        pg = UniformGlobalPolicy(2)
    else:
        pg = GlobalPolicy(np.array([[0, 1, 1], [1, 0, 0]]), k, 2, 2)
    exact = exact_value(game, pg, pl, n, k, horizon=H)
    res = evaluate(game, pg, pl, n=n, k=k, rollouts=2000, horizon=H, seed=5, simulator=simulator)
    assert abs(res.mean - exact) <= Z * res.stderr, (res.mean, exact, res.stderr)


def _alternating_global_state_game(num_local_states: int, seed: int) -> TabularGame:
    """``s_g`` starts at 0 and alternates 0, 1, 0, ... whatever happens; ``r_g = 0``.

    The agents are then i.i.d. given the (deterministic) ``s_g`` path, so the counts at
    step ``t`` are exactly ``Multinomial(n, mu_t)`` with ``mu_{t+1} = mu_t Pbar(s_g(t))``
    for any ``n``: the simulators can be checked against an exact law at large ``n``,
    where all the randomness is the agents' own."""
    rng = np.random.default_rng(seed)
    L = num_local_states
    P_g = np.zeros((2, 1, 2))
    P_g[0, 0, 1] = P_g[1, 0, 0] = 1.0
    return TabularGame.from_arrays(
        P_g=P_g,
        P_l=rng.dirichlet(np.full(L, 20.0), size=(L, 2, 2)),
        r_g=np.zeros((2, 1)),
        r_l=rng.random((L, 2, 2)),
        gamma=0.9,
        rho_g=[1.0, 0.0],
        rho_l=rng.dirichlet(np.full(L, 20.0)),
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "num_local_states, rollouts",
    [(3, 200), (300, 30)],  # 300 > 256 local states: the agents simulator's int32 path
)
def test_simulators_follow_the_exact_law_beyond_one_chunk(num_local_states, rollouts):
    """n = 70,000 agents: the agents simulator steps two full chunks of 32,768 agents and a
    partial one, each from its own seed. Both simulators must give the exact per-step law of
    the counts and the exact mean return, and agree with each other.

    Per step, Pearson's statistic summed over rollouts is chi2 with R (L - 1) degrees of
    freedom (n mu_j >= 100 per cell here, so the approximation is tight); we accept a
    two-sided p > 1e-6 per step (false-failure rate < 1e-5 over the 5 steps and 2
    simulators). Correlated chunks (a repeated seed) inflate it about 2.2x; a missing
    chunk breaks the occupancy's sum; wrapped uint8 states break the law."""
    n, H, L = 70_000, 5, num_local_states
    game = _alternating_global_state_game(L, seed=L)
    pg = GlobalPolicy.constant(0, num_global_states=2, num_actions=1, k=3, num_local_states=L)
    pl = LocalPolicy(np.random.default_rng(1).dirichlet(np.ones(2), size=(L, 2)))
    p_bar, r_bar = game.averaged_local(pl.probs)
    mu = np.empty((H, L))
    mu[0] = game.rho_l
    for t in range(1, H):
        mu[t] = mu[t - 1] @ p_bar[:, (t - 1) % 2, :]
    exact = sum(game.gamma**t * mu[t] @ r_bar[:, t % 2] for t in range(H))
    assert (n * mu).min() >= 100
    runs = {}
    for seed, simulator in enumerate(("agents", "counts")):
        res = evaluate(
            game, pg, pl, n=n, k=3, rollouts=rollouts, horizon=H, seed=seed,
            simulator=simulator, record=True,
        )  # fmt: skip
        np.testing.assert_allclose(res.occupancy.sum(-1), 1.0, atol=1e-12)
        counts = res.occupancy * n
        np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)
        pearson = ((counts - n * mu) ** 2 / (n * mu)).sum(axis=(0, 2))  # [H]
        df = rollouts * (L - 1)
        p_two_sided = 2 * np.minimum(stats.chi2.cdf(pearson, df), stats.chi2.sf(pearson, df))
        assert (p_two_sided > 1e-6).all(), (simulator, pearson / df)
        assert res.stderr > 0
        assert abs(res.mean - exact) <= Z * res.stderr, (simulator, res.mean, exact)
        runs[simulator] = res
    a, c = runs["agents"], runs["counts"]
    assert abs(a.mean - c.mean) <= Z * math.hypot(a.stderr, c.stderr)


def test_evaluate_rejects_bad_arguments():
    g = warehouse()
    pg, pl = _mode_policy(3), _local_policy(0)
    with pytest.raises(AltmarlError, match="k = 3 must satisfy 0 <= k <= n = 2"):
        evaluate(g, pg, pl, n=2, k=3)
    with pytest.raises(AltmarlError, match="differs from the global policy's k"):
        evaluate(g, pg, pl, n=100, k=4)
    with pytest.raises(AltmarlError, match="rollouts"):
        evaluate(g, pg, pl, n=100, k=3, rollouts=0)
    with pytest.raises(AltmarlError, match="simulator"):
        evaluate(g, pg, pl, n=100, k=3, simulator="magic")
    with pytest.raises(AltmarlError, match="too large for the agents simulator"):
        evaluate(g, pg, pl, n=10**9, k=3, simulator="agents")
