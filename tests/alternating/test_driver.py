"""The ALTERNATING-MARL loop (``alternating/driver.py``) driven by scripted oracles and a
scripted evaluator: accept, reject and stop decisions, stop rules, exact ties."""

from __future__ import annotations

import numpy as np

from alternating_helpers import GAME, K, _driver, _pg
from altmarl.alternating import AlternatingConfig, AlternatingMARL
from altmarl.oracles import LLearnResult, OracleInfo
from altmarl.policies import LocalPolicy


def test_driver_accepts_rejects_and_stops_when_both_players_fail_to_improve():
    # local accept, global reject, local overlap -> both confirmed since last accept: stop
    res = _driver([(10, 12), (12, 10), (12, 12.3)], alternations=5).run(progress=False)
    assert [r.decision for r in res.history] == ["accept", "reject", "terminate"]
    assert res.accepted == 1 and res.rejected == 1 and res.terminated_early
    # the accepted local proposal is kept, the rejected global one is not
    np.testing.assert_array_equal(res.global_policy.table, _pg(0).table)
    assert res.local_policy.probs[0, 0, 1] == 1.0


def test_driver_overlap_of_one_player_does_not_stop_by_default():
    # local overlap (only local confirmed), global accept, local accept, global overlap,
    # local overlap -> stop after 5 proposals
    script = [(10, 10.2), (10, 12), (12, 14), (14, 14.1), (14, 13.9)]
    res = _driver(script, alternations=5).run(progress=False)
    assert [r.decision for r in res.history] == [
        "terminate",
        "accept",
        "accept",
        "terminate",
        "terminate",
    ]
    np.testing.assert_array_equal(res.global_policy.table, _pg(1).table)
    # the paper's literal rule stops at the first overlap
    res = _driver(script, alternations=5, stop_rule="first-overlap").run(progress=False)
    assert len(res.history) == 1 and res.terminated_early


def test_driver_runs_all_alternations_when_every_step_improves():
    script = [(10 + 2 * i, 12 + 2 * i) for i in range(6)]
    res = _driver(script, alternations=3).run(progress=False)
    assert res.accepted == 6 and not res.terminated_early
    # the estimated potential of the accepted sequence never decreases
    accepted = [r.new_value for r in res.history if r.decision == "accept"]
    assert accepted == sorted(accepted)
    assert [r.player for r in res.history] == ["local", "global"] * 3


def test_a_proposal_equal_to_the_current_pair_is_an_exact_tie_without_simulation():
    """A no-op proposal (an equal copy of the current local policy) has Delta = 0 exactly:
    UPDATE records an overlap with difference 0 and spends no rollouts on it, never a
    spurious accept or reject."""

    class _SameLocal:
        def best_response(self, game, global_policy, k, *, local_policy=None, seed=0):
            return LLearnResult(LocalPolicy(local_policy.probs.copy()), OracleInfo())

    cfg = AlternatingConfig(
        k=K, n=40, eps_tol=1e-9, update_rollouts=10, update_horizon=10, alternations=3,
        order=("local",), final_rollouts=2, final_horizon=5,
    )  # fmt: skip
    res = AlternatingMARL(GAME, cfg, local_oracle=_SameLocal()).run(progress=False)
    row = res.history[0]
    assert (row.difference, row.rollouts, row.half_width) == (0.0, 0, 0.0)
    assert [r.decision for r in res.history] == ["terminate"]
