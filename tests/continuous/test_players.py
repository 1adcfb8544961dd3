"""The continuous players (``continuous/players.py``): UPDATE's cached evaluator and its rule."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from altmarl.continuous.networks import (  # noqa: E402
    DispatcherNet,
    LocalPolicyNet,
)
from altmarl.continuous.players import CachedRolloutEvaluator  # noqa: E402
from altmarl.continuous.rollout import (  # noqa: E402
    GreedyDispatcher,
    SampledLocal,
    simulate,
    torch_generator,
)
from continuous_helpers import _randomised, _small  # noqa: E402


def test_evaluator_caches_robot_comparisons_and_refreshes_dispatcher_comparisons():
    w = _small()
    policy = _randomised(LocalPolicyNet(), seed=2)
    policy2 = _randomised(LocalPolicyNet(), seed=12)
    d1 = _randomised(DispatcherNet(), seed=3)
    twin = DispatcherNet()
    twin.load_state_dict(d1.state_dict())
    other = _randomised(DispatcherNet(), seed=4)

    def run(d, p, gen):
        return simulate(w, GreedyDispatcher(d), SampledLocal(p), 5, 6, gen).returns

    ev = CachedRolloutEvaluator(k=5, episodes=6, seed=9, stream=11)
    first = ev.estimate(w, [(d1, policy)], seed=0)
    assert first[0].value == float(run(d1, policy, torch_generator(9, 11)).mean())
    assert ev.estimate(w, [(d1, policy)], seed=5) == first and ev.simulated == 1  # cached
    # robot comparison: the fixed episodes, the incumbent from the cache
    robots = ev.estimate(w, [(d1, policy), (d1, policy2)], seed=np.random.SeedSequence(7))
    assert ev.simulated == 2 and robots[0] == first[0]
    assert robots[1].value == float(run(d1, policy2, torch_generator(9, 11)).mean())
    # dispatcher comparison: fresh episodes from the step's seed, the incumbent simulated
    # again in one batch with the candidates, all on the same draws; a copy of the
    # incumbent's dispatcher runs the same episodes as the incumbent (gain exactly 0)
    step = np.random.SeedSequence([9, 3])
    fresh = run(d1, policy, torch_generator(step))
    again = ev.estimate(w, [(d1, policy), (twin, policy)], seed=step)
    assert ev.simulated == 4 and again[0] == again[1] and ev.gains[-1] == (0.0, 0.0)
    assert again[0].value == float(fresh.mean())
    assert again[0].value != first[0].value  # other episodes than the fixed set
    # ... the incumbent against itself (nothing proposed) is not simulated at all
    assert ev.estimate(w, [(d1, policy), (d1, policy)], seed=step) == [first[0]] * 2
    assert ev.simulated == 4
    # a dispatcher that acts differently: its gain is paired, episode by episode, and equals
    # what separate simulations on the same seed give
    new = ev.estimate(w, [(d1, policy), (other, policy)], seed=step)
    assert ev.simulated == 6
    ref = run(other, policy, torch_generator(step))
    diff = (ref - fresh).double()
    assert new[1].value == float(ref.mean())
    assert ev.gains[-1][0] == pytest.approx(float(diff.mean()), abs=1e-9)
    assert ev.gains[-1][1] == pytest.approx(float(diff.std()) / 6**0.5, abs=1e-9)


def test_update_asks_dispatchers_for_two_standard_errors_and_robots_for_more():
    from altmarl.alternating.evaluators import Estimate
    from altmarl.continuous.players import PairedKeepBetter

    ev = CachedRolloutEvaluator(k=1, episodes=4, seed=0, stream=0)
    rule = PairedKeepBetter(ev, z=2.0)
    old, new = Estimate(100.0, 5.0), Estimate(103.0, 5.0)
    ev.gains.append((3.0, 1.6))
    ev.last_fresh = True  # a dispatcher comparison: 3.0 < 2 x 1.6
    assert rule.decide(old, new) == "reject"
    ev.gains.append((3.0, 1.4))
    assert rule.decide(old, new) == "accept"
    ev.last_fresh = False  # robots on the fixed episodes: the larger value wins
    ev.gains.append((3.0, 10.0))
    assert rule.decide(old, new) == "accept"
    assert rule.decide(new, old) == "reject"


def test_an_undecided_dispatcher_comparison_gets_more_fresh_episodes():
    """With ``max_fresh_episodes``, a candidate that leads by less than ``z`` standard errors
    is compared again on the next batch of fresh episodes (children of the step's seed),
    and the valuations cover every batch; a decided comparison stops after the first."""
    w = _small()
    policy = _randomised(LocalPolicyNet(), seed=2)
    dispatchers = (_randomised(DispatcherNet(), seed=3), _randomised(DispatcherNet(), seed=4))
    step = np.random.SeedSequence([9, 3])

    def batch(i: int, d: DispatcherNet) -> torch.Tensor:
        seed = step if i == 0 else np.random.SeedSequence(step.entropy, spawn_key=(i,))
        return simulate(w, GreedyDispatcher(d), SampledLocal(policy), 5, 3, torch_generator(seed))

    first = [batch(0, d).returns for d in dispatchers]
    lead = float((first[1] - first[0]).mean())
    assert lead != 0.0, "the test needs dispatchers that differ on the first batch"
    inc, cand = dispatchers if lead > 0 else dispatchers[::-1]  # the candidate leads
    pairs = [(inc, policy), (cand, policy)]
    undecided = CachedRolloutEvaluator(k=5, episodes=3, seed=0, stream=0, max_fresh_episodes=12)
    undecided.z = 1e9  # any lead is within z standard errors: every batch is run
    vals = undecided.estimate(w, pairs, seed=step)
    rets = [torch.cat([batch(i, d).returns for i in range(4)]) for d in (inc, cand)]
    assert [v.value for v in vals] == [float(r.mean()) for r in rets]
    diff = (rets[1] - rets[0]).double()
    assert undecided.gains[-1][0] == pytest.approx(float(diff.mean()), abs=1e-9)
    assert undecided.gains[-1][1] == pytest.approx(float(diff.std()) / 12**0.5, abs=1e-9)
    decided = CachedRolloutEvaluator(k=5, episodes=3, seed=0, stream=0, max_fresh_episodes=12)
    decided.z = 0.0  # a lead is always decisive
    vals = decided.estimate(w, pairs, seed=step)
    assert vals[1].value == float(batch(0, cand).returns.mean()) and decided.simulated == 2
