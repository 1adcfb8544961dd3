"""Pinned numbers on tiny games (regressions, OpenSpiel style).

These are not properties: they are the outputs the library gave, to the last bit, before
the package was reorganised (``CHANGELOG.md``, 0.2.0), recomputed by the current code. A
change here means behaviour changed. If the change is intended (a new random stream, a
different floating-point order), update the numbers and say so in ``CHANGELOG.md``.
The properties these objects must satisfy are tested in their own modules.

Top level, not beside one module (cross-cutting): pinned numbers of several modules.
"""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.alternating import AlternatingConfig, AlternatingMARL
from altmarl.certify import certify
from altmarl.exact import exact_value, optimal_global_value
from altmarl.glearn import glearn
from altmarl.llearn import best_response
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.scenarios import random_game, warehouse
from altmarl.simulate import evaluate
from games import sticky_two_zones

EXACT = dict(rel=1e-12, abs=1e-12)


def test_certificate_of_a_random_pair():
    game = random_game(
        3,
        num_global_states=2,
        num_global_actions=2,
        num_local_states=2,
        num_local_actions=2,
        gamma=0.9,
    )
    rng = np.random.default_rng(0)
    pi_g = GlobalPolicy(rng.integers(0, 2, size=(2, 2)), 1, 2, 2)
    pi_l = LocalPolicy(rng.dirichlet(np.ones(2), size=(2, 2)))
    cert = certify(game, pi_g, pi_l, 3, 1)
    assert cert.value == pytest.approx(10.20112651524821, **EXACT)
    assert cert.global_gap_upper == pytest.approx(2.478796148740745, **EXACT)
    assert cert.local_gap_upper == pytest.approx(2.745788598963694, **EXACT)
    assert cert.global_gap_restricted == pytest.approx(2.478796148740745, **EXACT)
    assert cert.local_gap_restricted == pytest.approx(2.745788598963694, **EXACT)


def test_exact_training_and_its_certificate():
    game = sticky_two_zones(0)
    cfg = AlternatingConfig(
        k=2, n=4, evaluation="exact", m=None, local_oracle="planning", eps_tol=0.001
    )
    res = AlternatingMARL(game, cfg).run(progress=False)
    assert [r.decision for r in res.history] == ["accept", "accept", "terminate", "terminate"]
    assert res.value == pytest.approx(8.605012012216484, **EXACT)
    np.testing.assert_array_equal(res.global_policy.table, [[1, 1, 0], [1, 1, 0]])
    np.testing.assert_array_equal(res.local_policy.probs.ravel(), [0, 1, 1, 0, 1, 0, 0, 1])
    cert = certify(game, res.global_policy, res.local_policy, 4, 2)
    assert cert.global_gap_upper == pytest.approx(0.1446710228637791, **EXACT)
    assert cert.local_gap_upper == 0.0
    assert cert.global_gap_restricted == 0.0 and cert.local_gap_restricted == 0.0


def test_exact_values():
    game = sticky_two_zones(0)
    uniform = LocalPolicy.uniform(2, 2, 2)
    standard = GlobalPolicy(np.array([[0, 1, 1, 0], [1, 0, 0, 1]]), 2, 2, 2, "standard")
    assert exact_value(game, standard, uniform, 4, 2) == pytest.approx(4.994789741612696, **EXACT)
    assert optimal_global_value(game, uniform, 4, horizon=5) == pytest.approx(
        2.4235342528364714, **EXACT
    )


def test_glearn_numbers():
    game = sticky_two_zones(0)
    uniform = LocalPolicy.uniform(2, 2, 2)
    exact = glearn(game, uniform, 2, m=None, tol=1e-10)
    assert exact.value_mean == pytest.approx(6.101688485892389, **EXACT)
    np.testing.assert_array_equal(exact.policy.table, [[1, 1, 0], [1, 1, 0]])
    np.testing.assert_allclose(exact.q[0, 0], [5.774282581081144, 6.081419856668166], rtol=1e-12)
    sampled = glearn(game, uniform, 2, m=20, tol=1e-10, seed=3)
    assert sampled.value_mean == pytest.approx(6.134696135825354, **EXACT)
    assert float(sampled.q.sum()) == pytest.approx(72.28088787048063, **EXACT)
    std = glearn(game, uniform, 2, m=20, tol=1e-10, seed=3, parameterization="standard")
    assert std.value_mean == pytest.approx(6.103752605819145, **EXACT)
    assert float(std.q.sum()) == pytest.approx(96.06047629704527, **EXACT)


@pytest.mark.parametrize(
    "oracle, value",
    [
        ("planning", 7.973294792463607),
        ("mean-field", 7.895639176879165),
        ("ucfh", 7.615365268138023),
    ],
)
def test_llearn_numbers(oracle, value):
    game = sticky_two_zones(0)
    pi_g = GlobalPolicy.constant(1, num_global_states=2, num_actions=2, k=2, num_local_states=2)
    options = {"max_episodes": 300} if oracle == "ucfh" else {}
    res = best_response(game, pi_g, 2, oracle=oracle, seed=1, **options)
    assert res.info.value == pytest.approx(value, **EXACT)


@pytest.mark.parametrize(
    "simulator, value", [("counts", 66.51226241687957), ("agents", 67.09611956759215)]
)
def test_simulator_streams(simulator, value):
    pi_g = GlobalPolicy.constant(2, num_global_states=5, num_actions=5, k=3, num_local_states=5)
    res = evaluate(
        warehouse(),
        pi_g,
        LocalPolicy.uniform(5, 5, 3),
        n=50,
        k=3,
        rollouts=20,
        horizon=30,
        seed=7,
        simulator=simulator,
    )
    assert res.mean == pytest.approx(value, **EXACT)
