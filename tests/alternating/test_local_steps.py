"""The n-aware local step (``alternating/local_steps.py``) on tiny games with exact values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from altmarl.alternating import (
    AlternatingConfig,
    AlternatingMARL,
    NAwareLocal,
    deterministic_projection,
)
from altmarl.counts import CountSpace
from altmarl.exact import exact_value
from altmarl.llearn import make_oracle
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.scenarios import random_game

K, N = 2, 8


def _case():
    """A game and dispatcher where the mean-field oracle's answer (a k = 2 surrogate) misses
    the best deterministic shared policy of the 8-agent system by about 1.4 (13%)."""
    game = random_game(0, num_local_states=3, num_local_actions=2, concentration=0.5)
    rng = np.random.default_rng(0)
    pg = GlobalPolicy(rng.integers(0, 2, size=(2, CountSpace(K, 3).size)), K, 3, 2)
    return game, pg


def _best_deterministic(game, pg):
    tables = itertools.product(range(2), repeat=6)
    return max(
        exact_value(game, pg, LocalPolicy.deterministic(np.reshape(t, (3, 2)), 2), N, K)
        for t in tables
    )


def test_projection_plays_the_most_likely_action():
    probs = np.array([[[0.2, 0.8], [0.5, 0.5]], [[0.9, 0.1], [0.3, 0.7]]])
    proj = deterministic_projection(LocalPolicy(probs))
    np.testing.assert_array_equal(proj.probs.argmax(axis=2), [[1, 0], [0, 1]])
    assert set(np.unique(proj.probs)) == {0.0, 1.0}


def test_n_aware_candidates_include_the_best_shared_policy_of_the_n_agent_system():
    game, pg = _case()
    best = _best_deterministic(game, pg)
    oracle = make_oracle("mean-field")
    answer = oracle.best_response(game, pg, K, seed=0).policy
    assert exact_value(game, pg, answer, N, K) < best - 1.0  # the surrogate's miss
    res, found = NAwareLocal(oracle, N).candidates(game, pg, K, seed=0)
    assert found[0].name == "l-learn" and np.array_equal(found[0].policy.probs, res.policy.probs)
    values = [exact_value(game, pg, c.policy, N, K) for c in found]
    assert max(values) == pytest.approx(best, abs=1e-9)
    assert found[int(np.argmax(values))].name == "n-agent-search"
    # at a size where the exact chain is too large the search is off: answers + projections
    _, big = NAwareLocal(oracle, 10**6).candidates(game, pg, K, seed=0)
    assert {c.name for c in big} <= {"l-learn", "l-learn:deterministic"}


def test_the_n_aware_step_closes_the_local_gap_the_oracle_leaves():
    """Exact evaluation, the mean-field oracle, the dispatcher held fixed (local moves only):
    UPDATE takes the n-aware step's best candidate, so the run ends at the best
    deterministic shared policy of the 8-agent system; the plain oracle stops short."""
    game, pg = _case()
    best = _best_deterministic(game, pg)
    base = dict(k=K, n=N, evaluation="exact", eps_tol=1e-3, order=("local",), alternations=3)

    def run(n_aware):
        cfg = AlternatingConfig(**base, n_aware_local=n_aware)
        marl = AlternatingMARL(game, cfg)
        marl.initial_pair = lambda: (pg, LocalPolicy.uniform(3, 2, 2))  # type: ignore[method-assign]
        res = marl.run(progress=False)
        return exact_value(game, pg, res.local_policy, N, K), res

    plain, _ = run(False)
    aware, res = run(True)
    assert plain < best - 1.0
    assert aware == pytest.approx(best, abs=1e-9)
    assert "n-agent-search" in {r.candidate for r in res.history if r.decision == "accept"}
