"""The exact count chain (``exact.py``) against brute-force enumeration over individual agents."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from altmarl.counts import CountSpace
from altmarl.exact import (
    evaluate_exact,
    exact_value,
    local_count_kernel,
    optimal_global_control,
    population_model,
)
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.scenarios import random_game


def test_local_count_kernel_matches_per_agent_enumeration():
    rng = np.random.default_rng(0)
    L, n = 3, 3
    P = rng.dirichlet(np.ones(L), size=L)
    Q = local_count_kernel(P, n).toarray()
    space = CountSpace(n, L)
    np.testing.assert_allclose(Q.sum(1), 1.0)
    for N in space.all():
        agents = np.repeat(np.arange(L), N)
        brute = np.zeros(space.size)
        for dest in itertools.product(range(L), repeat=n):
            p = np.prod([P[s, d] for s, d in zip(agents, dest, strict=True)])
            brute[space.rank(np.bincount(dest, minlength=L))] += p
        np.testing.assert_allclose(Q[space.rank(N)], brute, atol=1e-12)


def test_finite_horizon_converges_to_infinite_and_stays_in_bounds():
    game = random_game(1, num_local_states=2)
    rng = np.random.default_rng(2)
    pg = GlobalPolicy(rng.integers(0, 2, size=(2, CountSpace(2, 2).size)), 2, 2, 2)
    pl = LocalPolicy(rng.dirichlet(np.ones(2), size=(2, 2)))
    v_inf = exact_value(game, pg, pl, 3, 2)
    v_h = exact_value(game, pg, pl, 3, 2, horizon=400)
    assert v_h == pytest.approx(v_inf, abs=game.value_bound * game.gamma**400 + 1e-9)
    assert 0 <= v_inf <= game.value_bound


def test_one_step_value_by_hand():
    """Horizon 1: E[r_0] = sum rho_g(g) [ E_a r_g + E_N (1/n) sum_j N_j rbar(j, g) ]."""
    game = random_game(5, num_local_states=2)
    pl = LocalPolicy.uniform(2, 2, 2)
    pg = GlobalPolicy.constant(1, num_global_states=2, num_actions=2, k=1, num_local_states=2)
    _, r_bar = game.averaged_local(pl.probs)
    by_hand = sum(game.rho_g[g] * (game.r_g[g, 1] + game.rho_l @ r_bar[:, g]) for g in range(2))
    assert exact_value(game, pg, pl, 3, 1, horizon=1) == pytest.approx(by_hand)


def test_optimal_control_dominates_and_is_attained_at_k_equals_n():
    game = random_game(3, num_local_states=2)
    rng = np.random.default_rng(4)
    pl = LocalPolicy(rng.dirichlet(np.ones(2), size=(2, 2)))
    n = 3
    opt = optimal_global_control(game, pl, n)
    model = population_model(game, pl, n)
    for _ in range(5):
        for k in (1, 2, 3):
            pg = GlobalPolicy(rng.integers(0, 2, size=(2, CountSpace(k, 2).size)), k, 2, 2)
            assert evaluate_exact(game, pg, pl, n, k, model=model).value <= opt.value + 1e-9
    # with k = n the global agent sees everything: the optimum is a feasible policy
    best = GlobalPolicy(opt.policy, n, 2, 2)
    assert exact_value(game, best, pl, n, n) == pytest.approx(opt.value, rel=1e-10)


def test_finite_horizon_optimal_control_by_hand_and_against_feasible_policies():
    """optimal_global_control(horizon=H): backward induction over H steps.

    H = 1 by hand: the best first-step reward, max_a r_g(s_g, a) + (1/n) sum_j N_j rbar(j,
    s_g), averaged over the initial law. For every H it dominates the exact H-step value
    of feasible policies (random ones, k = 1..3), rises with H (rewards are >= 0) and is within
    gamma^H r_max / (1 - gamma) of the infinite-horizon optimum."""
    game = random_game(6, num_local_states=2)
    rng = np.random.default_rng(7)
    pl = LocalPolicy(rng.dirichlet(np.ones(2), size=(2, 2)))
    n = 3
    model = population_model(game, pl, n)
    _, r_bar = game.averaged_local(pl.probs)
    counts = model.space.all()
    by_hand = sum(
        model.initial[g, i] * (game.r_g[g].max() + counts[i] @ r_bar[:, g] / n)
        for g in range(2)
        for i in range(model.space.size)
    )
    assert optimal_global_control(game, pl, n, horizon=1).value == pytest.approx(by_hand)
    v_inf = optimal_global_control(game, pl, n).value
    policies = [
        GlobalPolicy(rng.integers(0, 2, size=(2, CountSpace(k, 2).size)), k, 2, 2)
        for k in (1, 2, 3)
        for _ in range(3)
    ]
    previous = 0.0
    for H in (1, 2, 5, 30, 300):
        opt = optimal_global_control(game, pl, n, horizon=H, model=model)
        assert opt.value >= previous - 1e-12
        previous = opt.value
        assert abs(v_inf - opt.value) <= game.gamma**H * game.value_bound + 1e-9
        for pg in policies:
            v = evaluate_exact(game, pg, pl, n, pg.k, horizon=H, model=model).value
            assert v <= opt.value + 1e-9
    # at 300 steps the truncation is below 1e-12: the two routes give the same optimum
    assert previous == pytest.approx(v_inf, abs=1e-9)
