"""``AlternatingMARL`` (``alternating/marl.py``): the standard parameterization, warm starts of
G-LEARN, interrupt and resume of a run."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from alternating_helpers import FAST, GAME, K, _ScriptedEvaluator, _ScriptedLocal
from altmarl.alternating import AlternatingConfig, AlternatingMARL, read_history
from altmarl.errors import AltmarlError
from altmarl.policy_dir import load_policy_dir


def test_standard_parameterization_trains_the_mean_field_pair():
    """With the exact operator and exact evaluation, G-LEARN on ordered k-tuples has the
    same Q as on count vectors (tests/glearn/test_oracle.py), so a standard-parameterization run
    keeps standard global policies throughout and ends with the mean-field run's pair
    (its table read by counts) and value."""
    from games import sticky_two_zones

    game = sticky_two_zones(0)
    base = dict(
        k=2, n=3, evaluation="exact", m=None, local_oracle="planning", eps_tol=1e-4,
        alternations=3, order=("global", "local"),
    )  # fmt: skip
    mf = AlternatingMARL(game, AlternatingConfig(**base)).run(progress=False)
    sd = AlternatingMARL(game, AlternatingConfig(**base, parameterization="standard"))
    res = sd.run(progress=False)
    assert res.accepted >= 1
    assert res.global_policy.parameterization == "standard"
    assert res.global_policy.table.shape == (2, 2**2)
    np.testing.assert_array_equal(res.global_policy.to_mean_field().table, mf.global_policy.table)
    np.testing.assert_array_equal(res.local_policy.probs, mf.local_policy.probs)
    assert res.value == pytest.approx(mf.value, rel=1e-12)
    assert [r.decision for r in res.history] == [r.decision for r in mf.history]


class _RecordingGLearn:
    """The real G-LEARN oracle, recording the warm start it was given and the Q it returned."""

    def __init__(self, **kw):
        from altmarl.glearn import GLearnOracle

        self.oracle = GLearnOracle(**kw)
        self.calls: list[tuple[np.ndarray | None, np.ndarray, int]] = []

    def best_response(self, game, local_policy, k, *, global_policy=None, seed=0, previous=None):
        res = self.oracle.best_response(game, local_policy, k, seed=seed, previous=previous)
        q0 = None if previous is None else previous.q
        self.calls.append((q0, res.q, res.info.iterations))
        return res


@pytest.mark.parametrize("warm_start", [True, False])
def test_warm_start_feeds_the_last_q_to_the_next_glearn_call(warm_start):
    """warm_start=True starts each G-LEARN call from the previous call's Q (the fixed point
    moves little between calls); warm_start=False starts every call from Q = 0. The fixed
    point does not depend on the start: both end with the same pair."""
    script = [(10 + 2 * i, 12 + 2 * i) for i in range(6)]  # every proposal is accepted

    def run(warm):
        oracle = _RecordingGLearn(m=10, tol=1e-10)
        cfg = AlternatingConfig(k=K, n=10, eps_tol=0.5, alternations=3, warm_start=warm)
        driver = AlternatingMARL(
            GAME, cfg, global_oracle=oracle, local_oracle=_ScriptedLocal(),
            evaluator=_ScriptedEvaluator(script),
        )  # fmt: skip
        return driver.run(progress=False), oracle.calls

    res, calls = run(warm_start)
    assert len(calls) == 3 and calls[0][0] is None
    for (_, q_prev, _), (q0, _, _) in itertools.pairwise(calls):
        if warm_start:
            assert q0 is not None and np.array_equal(q0, q_prev)
        else:
            assert q0 is None
    other, _ = run(not warm_start)
    np.testing.assert_array_equal(res.global_policy.table, other.global_policy.table)


class _Interrupt(Exception):
    pass


def _strip_timing(rows):
    # repr: a proposal equal to the current pair is not simulated and records nan estimates
    return [{k: repr(v) for k, v in r.without_timing().items()} for r in rows]


@pytest.mark.parametrize(
    "extra", [{}, {"global_candidates": "safeguarded", "reuse_global_response": True}]
)
def test_interrupt_and_resume_gives_the_uninterrupted_output(tmp_path, extra):
    cfg = AlternatingConfig(**FAST, **extra)
    full = AlternatingMARL(GAME, cfg).run(tmp_path / "full", progress=False)
    assert len(full.history) >= 3

    def stop_at_2(step):
        if step == 2:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        AlternatingMARL(GAME, cfg).run(tmp_path / "cut", progress=False, on_step=stop_at_2)
    state = json.loads((tmp_path / "cut" / "state.json").read_text())
    assert state["step"] == 2 and not state["finished"]
    with pytest.raises(AltmarlError, match="--resume"):
        AlternatingMARL(GAME, cfg).run(tmp_path / "cut", progress=False)
    resumed = AlternatingMARL(GAME, cfg).run(tmp_path / "cut", resume=True, progress=False)
    np.testing.assert_array_equal(resumed.global_policy.table, full.global_policy.table)
    np.testing.assert_array_equal(resumed.local_policy.probs, full.local_policy.probs)
    assert _strip_timing(resumed.history) == _strip_timing(full.history)
    assert resumed.value == full.value
    on_disk = _strip_timing(read_history(tmp_path / "cut" / "history.csv"))
    assert on_disk == _strip_timing(read_history(tmp_path / "full" / "history.csv"))
    a = load_policy_dir(tmp_path / "cut" / "policy", GAME)
    np.testing.assert_array_equal(a.local_policy.probs, full.local_policy.probs)


def test_resume_refuses_a_different_config(tmp_path):
    cfg = AlternatingConfig(**{**FAST, "alternations": 1})
    AlternatingMARL(GAME, cfg).run(tmp_path / "r", progress=False)
    other = AlternatingConfig(**{**FAST, "alternations": 1, "seed": 6})
    with pytest.raises(AltmarlError, match="seed=5"):
        AlternatingMARL(GAME, other).run(tmp_path / "r", resume=True, progress=False)
