"""Exact Nash-gap certificate: bounds against enumeration, value against Monte Carlo."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from altmarl.alternating import AlternatingConfig, AlternatingMARL
from altmarl.certify import certify, local_split_control
from altmarl.counts import CountSpace
from altmarl.exact import evaluate_exact, exact_value
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.scenarios import random_game
from altmarl.simulate import evaluate
from games import sticky_two_zones


@pytest.mark.parametrize("seed", range(4))
def test_upper_bounds_dominate_exact_restricted_gaps(seed):
    rng = np.random.default_rng(seed)
    game = sticky_two_zones(seed) if seed % 2 else random_game(seed, concentration=0.3)
    k, n = 2, 3
    pg = GlobalPolicy(rng.integers(0, 2, size=(2, CountSpace(k, 2).size)), k, 2, 2)
    pl = LocalPolicy(rng.dirichlet(np.ones(2), size=(2, 2)))
    cert = certify(game, pg, pl, n, k)
    assert cert.global_gap_restricted is not None and cert.local_gap_restricted is not None
    assert cert.global_gap_upper >= cert.global_gap_restricted - 1e-9
    assert cert.local_gap_upper >= cert.local_gap_restricted - 1e-9
    # the current pi_g is in the enumerated class, so its restricted gap is >= 0
    assert cert.global_gap_restricted >= -1e-9
    # Definition 2.4 is per state: the supremum over states bounds the initial-law average
    assert cert.global_gap_upper_sup >= cert.global_gap_upper - 1e-9
    assert cert.local_gap_upper_sup >= cert.local_gap_upper - 1e-9
    assert cert.global_gap_upper_sup >= cert.global_gap_restricted_sup - 1e-9
    assert cert.local_gap_upper_sup >= cert.local_gap_restricted_sup - 1e-9
    assert cert.global_gap_restricted_sup >= cert.global_gap_restricted - 1e-9
    assert cert.eps == max(cert.global_gap_upper_sup, cert.local_gap_upper_sup, 0.0)
    assert cert.eps_initial == max(cert.global_gap_upper, cert.local_gap_upper, 0.0)


def test_per_state_certificate_finds_the_deviation_the_initial_law_hides():
    """Issue #12's demonstration: from the initial law the certificate says 2.7458, but a
    deterministic shared local deviation gains 3.5076 from the state (s_g = 0, N = (3, 0)).
    The supremum over states reports it, with its state, and eps is the supremum."""
    game = random_game(
        3, num_global_states=2, num_global_actions=2, num_local_states=2,
        num_local_actions=2, gamma=0.9,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    pg = GlobalPolicy(rng.integers(0, 2, size=(2, 2)), 1, 2, 2)
    pl = LocalPolicy(rng.dirichlet(np.ones(2), size=(2, 2)))
    n, k = 3, 1
    cert = certify(game, pg, pl, n, k)
    assert cert.local_gap_upper == pytest.approx(2.7457885989636940, abs=1e-9)
    assert cert.local_gap_upper_sup >= 3.5076
    assert cert.eps >= 3.5076 > cert.eps_initial
    # the reported state is where a deterministic shared deviation gains that much: find it
    state = cert.local_sup_state
    rank = int(CountSpace(n, 2).rank(np.array([state["counts"]]))[0])
    own = evaluate_exact(game, pg, pl, n, k).values[state["s_g"], rank]
    gains = [
        evaluate_exact(game, pg, LocalPolicy.deterministic(np.reshape(t, (2, 2)), 2), n, k).values[
            state["s_g"], rank
        ]
        - own
        for t in itertools.product(range(2), repeat=4)
    ]
    assert max(gains) == pytest.approx(cert.local_gap_restricted_sup, abs=1e-9)
    assert max(gains) >= 3.5076


def test_enumeration_over_the_limit_is_skipped_and_changes_nothing_else():
    """max_enumerate bounds the restricted classes enumerated (64 global and 16 local
    deterministic policies here); the exact value and upper bounds never depend on it."""
    game, k, n = sticky_two_zones(2), 2, 3
    rng = np.random.default_rng(5)
    pg = GlobalPolicy(rng.integers(0, 2, size=(2, CountSpace(k, 2).size)), k, 2, 2)
    pl = LocalPolicy(rng.dirichlet(np.ones(2), size=(2, 2)))
    full = certify(game, pg, pl, n, k)
    assert full.global_gap_restricted is not None and full.local_gap_restricted is not None
    for limit, global_done, local_done in ((64, True, True), (63, False, True), (15, False, False)):
        cert = certify(game, pg, pl, n, k, max_enumerate=limit)
        assert (cert.global_gap_restricted is not None) == global_done
        assert (cert.local_gap_restricted is not None) == local_done
        assert (cert.value, cert.global_gap_upper, cert.local_gap_upper) == (
            full.value,
            full.global_gap_upper,
            full.local_gap_upper,
        )


def test_local_split_controller_dominates_every_shared_policy():
    game = sticky_two_zones(3)
    k, n = 1, 3
    pg = GlobalPolicy(np.array([[0, 1], [0, 1]]), k, 2, 2)
    best, _ = local_split_control(game, pg, n, k)
    rng = np.random.default_rng(0)
    for _ in range(10):
        pl = LocalPolicy(rng.dirichlet(np.ones(2), size=(2, 2)))
        assert exact_value(game, pg, pl, n, k) <= best + 1e-9


def _train(game, k, n, **kw):
    cfg = AlternatingConfig(
        k=k,
        n=n,
        evaluation="exact",
        eps_tol=1e-4,
        m=None,
        local_oracle="planning",
        alternations=6,
        **kw,
    )
    return AlternatingMARL(game, cfg).run(progress=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trained_gaps_shrink_as_k_grows_to_n(seed):
    """Train then certify on tiny games: the global gap bound shrinks to 0 as k -> n.

    Properties: the certificate's value is the exact value; at k = n G-LEARN with the exact
    operator sees the whole population, so once the run stops by the all-players rule
    (both players confirmed) the global gap is within UPDATE's resolution 2 eps_tol of 0
    (observed <= 1e-6).
    Regressions on these three sticky_two_zones games (seeded outcomes of training, not
    theorems: Theorem 4.4 bounds the gap, it does not order it in k): the planning
    oracle's local responses leave no local gap, the gap is ordered in k, and k = 1 leaves
    a gap above 0.05."""
    game, n = sticky_two_zones(seed), 4
    gaps = {}
    for k in (1, 2, 3, 4):
        res = _train(game, k, n)
        cert = certify(game, res.global_policy, res.local_policy, n, k)
        gaps[k] = cert.global_gap_upper
        assert cert.value == pytest.approx(
            exact_value(game, res.global_policy, res.local_policy, n, k)
        )
        assert cert.local_gap_upper <= 1e-6  # regression
        if k == n:
            assert res.terminated_early  # stopped by the rule, not by the budget
    assert gaps[4] <= 2 * 1e-4  # property: k = n, up to 2 eps_tol
    assert gaps[4] <= gaps[3] <= min(gaps[1], gaps[2])  # regression
    assert gaps[1] > 0.05  # regression


@pytest.mark.slow
def test_certified_value_matches_online_execution():
    game, n, k = sticky_two_zones(0), 4, 2
    res = _train(game, k, n)
    cert = certify(game, res.global_policy, res.local_policy, n, k)
    H = 250  # gamma^H r_max / (1 - gamma) < 1e-10
    mc = evaluate(
        game, res.global_policy, res.local_policy, n=n, k=k, rollouts=20000, horizon=H, seed=1
    )
    assert abs(mc.mean - cert.value) <= 4.5 * mc.stderr


def test_paper_stop_rule_can_stop_before_both_players_are_checked():
    """The literal first-overlap rule leaves a local gap the certificate exposes; the
    default all-players rule does not."""
    game, n, k = random_game(2, num_local_states=2, gamma=0.9, concentration=0.3), 4, 2
    literal = _train(game, k, n, order=("global", "local"), stop_rule="first-overlap")
    cert = certify(game, literal.global_policy, literal.local_policy, n, k)
    assert cert.local_gap_upper > 0.5
    default = _train(game, k, n, order=("global", "local"))
    cert = certify(game, default.global_policy, default.local_policy, n, k)
    assert cert.eps <= 1e-6
