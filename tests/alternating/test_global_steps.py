"""Variants of the global step (``alternating/global_steps.py``): the reused answer of a
stored Q, the safeguarded step's conservative and constant candidates."""

from __future__ import annotations

import numpy as np
import pytest

from alternating_helpers import GAME, K, _driver, _pg, _ScriptedGlobal, _ScriptedLocal
from altmarl.alternating import (
    AlternatingConfig,
    AlternatingMARL,
    Estimate,
    ReusedAnswer,
    safeguard_candidates,
)
from altmarl.oracles import GLearnResult, OracleInfo, PreviousAnswer, policy_fingerprint
from altmarl.policies import GlobalPolicy, LocalPolicy


class _TableScore:
    """Scores a pair by how many entries of its dispatcher table play ``favourite``
    (deterministic, so one call estimates every candidate on the same footing)."""

    def __init__(self, favourite: int):
        self.favourite = favourite
        self.calls: list[int] = []

    def estimate(self, game, pairs, seed):
        self.calls.append(len(pairs))
        return [Estimate(float((g.table == self.favourite).mean()) * 10, 0.0) for g, _ in pairs]


class _Proposes:
    """A global oracle that proposes a fixed table with a fixed Q."""

    def __init__(self, table, q):
        self.table, self.q = table, q

    def best_response(self, game, local_policy, k, *, global_policy=None, seed=0, previous=None):
        return GLearnResult(self.q, GlobalPolicy(self.table, K, 5, 5), OracleInfo(samples=7))


@pytest.mark.parametrize("reuse", [False, True])
def test_global_step_after_a_failed_local_one_reuses_the_last_answer(reuse):
    # order global, local: G accept, L reject (pi_l unchanged), G overlap -> stop
    script = [(10, 12), (12, 10), (12, 12.1)]
    driver = _driver(script, alternations=3, order=("global", "local"), reuse_global_response=reuse)
    res = driver.run(progress=False)
    assert [r.decision for r in res.history] == ["accept", "reject", "terminate"]
    inner = driver.global_oracle.inner if reuse else driver.global_oracle
    assert inner.calls == (1 if reuse else 2)
    last = res.history[-1]
    assert (last.samples == 0 and last.iterations == 0) == reuse


def test_reused_answer_is_the_greedy_policy_of_the_stored_q():
    q = np.zeros((5, 15, 5))
    q[..., 4] = 1.0
    q[0, :, 2] = 2.0
    pi_l = LocalPolicy.uniform(5, 5, 3)
    never = _ScriptedGlobal()
    res = ReusedAnswer(never).best_response(
        GAME,
        pi_l,
        K,
        global_policy=_pg(0),
        seed=np.random.default_rng(1),
        previous=PreviousAnswer(q, policy_fingerprint(pi_l)),
    )
    expected = np.full((5, 15), 4)
    expected[0] = 2
    np.testing.assert_array_equal(res.policy.table, expected)
    assert never.calls == 0 and res.q is q and res.info.samples == 0
    assert res.info.value == pytest.approx(q.max(axis=-1).mean())


def test_safeguard_candidates_are_conservative_updates_then_constants():
    # advantage of action 3 over the current action 0 rises along the 15 count states
    adv = np.tile(np.arange(15, dtype=float), (5, 1))  # max 14
    q = np.zeros((5, 15, 5))
    q[..., 3] = adv
    cands = safeguard_candidates(GAME, _pg(0), _pg(3), q)
    names = [c.name for c in cands]
    # constant 0 is the current policy and constant 3 the proposal: both left out
    assert names == [
        "conservative:0.25",
        "conservative:0.5",
        "conservative:0.75",
        "constant:1",
        "constant:2",
        "constant:4",
    ]
    for cand, f in zip(cands, (0.25, 0.5, 0.75), strict=False):
        switch = adv > f * 14
        np.testing.assert_array_equal(cand.policy.table, np.where(switch, 3, 0), err_msg=cand.name)
        assert 0 < switch.sum() < switch.size


def test_safeguarded_global_step_takes_the_best_candidate():
    """G-LEARN proposes a dispatcher the evaluator dislikes (constant 1); the paper's step
    rejects it, the safeguarded one accepts the constant the evaluator likes (2)."""
    q = np.zeros((5, 15, 5))
    q[..., 1] = np.arange(15.0)  # conservative candidates switch the top states only
    oracle = _Proposes(_pg(1).table, q)

    def run(candidates):
        ev = _TableScore(favourite=2)
        cfg = AlternatingConfig(
            k=K,
            n=10,
            eps_tol=0.5,
            order=("global",),
            alternations=2,
            global_candidates=candidates,
        )
        driver = AlternatingMARL(
            GAME, cfg, global_oracle=oracle, local_oracle=_ScriptedLocal(), evaluator=ev
        )
        return driver.run(progress=False), ev

    plain, ev = run("g-learn")
    assert [r.decision for r in plain.history] == ["terminate"]
    assert plain.history[0].candidate == "g-learn" and ev.calls == [2]
    np.testing.assert_array_equal(plain.global_policy.table, _pg(0).table)
    safe, ev = run("safeguarded")
    # current pair + G-LEARN's + 3 conservative + constants 2, 3, 4, all in one call
    assert ev.calls[0] == 1 + 1 + 3 + 3
    # then from constant 2 the best is the most conservative move towards 1 (11 of 15
    # entries still play 2: 7.33 < 10 - 2 eps_tol): rejected, and the run stops
    assert [(r.decision, r.candidate) for r in safe.history] == [
        ("accept", "constant:2"),
        ("reject", "conservative:0.75"),
    ]
    assert safe.history[1].new_value == pytest.approx(10 * 11 / 15)
    np.testing.assert_array_equal(safe.global_policy.table, _pg(2).table)
