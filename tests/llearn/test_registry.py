"""L-LEARN oracles by name (``llearn/registry.py``, SPEC §4): the three oracles agree and
are ordered on tiny games, chain variants, the protocol and validation."""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.errors import AltmarlError
from altmarl.llearn import LocalOracle, MeanFieldOracle, PlanningOracle, UCFHOracle, best_response
from altmarl.policies import LocalPolicy
from llearn_helpers import K, T, shared_value, tiny_setup


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 2])
def test_three_oracles_agree_and_are_ordered(seed):
    game, pi_g = tiny_setup(seed)
    start = LocalPolicy.uniform(2, 2, 2)
    v_start = shared_value(game, pi_g, start)
    results = {
        name: best_response(game, pi_g, K, oracle=name, T=T, seed=seed, local_policy=start)
        for name in ("planning", "ucfh", "mean-field")
    }
    exact = {name: shared_value(game, pi_g, r.policy) for name, r in results.items()}
    plan, ucb = results["planning"].info, results["ucfh"].info
    # the chain oracles' own values are exact k-agent values of the returned policy
    assert plan.value == pytest.approx(exact["planning"], rel=1e-12)
    assert ucb.value == pytest.approx(exact["ucfh"], rel=1e-12)
    assert ucb.start_value == pytest.approx(v_start, rel=1e-12)
    # unrestricted chain optimum >= best shared policy found >= projected optimum
    assert plan.chained_value >= plan.value - 1e-12
    assert plan.value >= plan.projected_value - 1e-12
    # UCFH's chained policy is no better than the optimum and within its eps of it
    eps = ucb.extra["ucfh_eps"]
    assert ucb.chained_value <= plan.chained_value + 1e-12
    assert ucb.chained_value >= plan.chained_value - eps
    assert ucb.extra["ucfh_optimistic"] >= plan.chained_value - 1e-9
    assert ucb.episodes > 0 and ucb.samples == ucb.episodes * T * (K + 1)
    # planning is at least as good as the projected UCFH policy up to UCFH's eps
    assert exact["planning"] >= exact["ucfh"] - eps
    # the chain oracles improve on the uniform start by construction
    assert exact["planning"] >= v_start - 1e-12
    assert exact["ucfh"] >= v_start - eps
    # Regression, not a guarantee: mean field is a large-k approximation, so at k = 2 its
    # choice is judged by an inexact model. On these seeds it gains ~0.9 on the start and
    # falls 0.018 (seed 0) / 0.015 (seed 2) short of planning; allowance 0.03. Where the
    # model is exact (constant pi_g) the tight checks are in
    # test_mean_field_oracle_is_exact_for_a_constant_global_policy.
    assert exact["mean-field"] > v_start
    assert exact["mean-field"] >= exact["planning"] - 0.03


def test_chain_variants_give_consistent_values():
    """Algorithm 28's chain and Algorithm 17's state rewards are alternative routes."""
    game, pi_g = tiny_setup(3)
    res = best_response(game, pi_g, K, oracle="planning", T=T, chain="mean-field")
    pol, info = res.policy, res.info
    assert np.allclose(pol.probs, np.eye(2)[pol.probs.argmax(axis=2)])
    # a deterministic shared policy has the same value on both chains
    assert info.value == pytest.approx(shared_value(game, pi_g, pol), rel=1e-10)
    plan = best_response(game, pi_g, K, oracle="planning", T=T).info
    assert info.value <= plan.chained_value + 1e-12
    res17 = best_response(
        game, pi_g, K, oracle="ucfh", T=3, state_rewards=True, max_episodes=3000, seed=1
    )
    pol17, info17 = res17.policy, res17.info
    assert info17.value == pytest.approx(shared_value(game, pi_g, pol17, horizon=3), rel=1e-12)
    assert info17.samples == info17.episodes * 2 * 3 * (K + 1)  # Algorithm 17 doubles H


def test_oracles_satisfy_the_protocol_and_validate():
    for oracle in (UCFHOracle(), PlanningOracle(), MeanFieldOracle()):
        assert isinstance(oracle, LocalOracle)
    game, pi_g = tiny_setup(0)
    with pytest.raises(AltmarlError, match="oracle 'bogus'"):
        best_response(game, pi_g, K, oracle="bogus")
    with pytest.raises(AltmarlError, match="k = 2"):
        best_response(game, pi_g, 3, oracle="planning")
    with pytest.raises(AltmarlError, match="max_sweeps"):
        best_response(game, pi_g, K, oracle="mean-field", max_sweeps=3)
    with pytest.raises(AltmarlError, match="T = 0"):
        best_response(game, pi_g, K, oracle="planning", T=0)
