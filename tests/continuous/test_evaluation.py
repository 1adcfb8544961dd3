"""Final evaluation of a continuous pair (``continuous/evaluation.py``): initial mode
accuracy, paired margins over the reference dispatchers, the paper's protocol."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from altmarl.continuous.env import (  # noqa: E402
    NUM_BINS,
    ContinuousWarehouse,
)
from altmarl.continuous.evaluation import (  # noqa: E402
    FINAL_STREAM,
    SELECT_STREAM,
    choose_constant,
    final_evaluation,
    get_protocol,
    initial_mode_accuracy,
)
from altmarl.continuous.networks import (  # noqa: E402
    DispatcherNet,
    LocalPolicyNet,
)
from altmarl.continuous.rollout import (  # noqa: E402
    ConstantDispatcher,
    GreedyDispatcher,
    SampledLocal,
    simulate,
    torch_generator,
)
from altmarl.errors import AltmarlError  # noqa: E402
from continuous_helpers import _randomised, _small  # noqa: E402


def test_initial_mode_accuracy_is_exact_with_the_whole_population():
    # k = n: the sample is the population, so pointing at its fullest bin names the mode
    w = ContinuousWarehouse(n=80)

    class FullestBin:
        def act(self, obs, u):
            return torch.argmax(obs[:, 1:], dim=1)

    gen = torch.Generator().manual_seed(0)
    assert initial_mode_accuracy(w, FullestBin(), 80, 2000, gen) == 1.0
    # k = 1: one robot, in the larger cluster with probability ~0.55 (Bayes rate 0.541 by
    # 10^5 simulated starts); 4000 starts: standard error 0.0079, 0.04 is 5 of them
    acc = initial_mode_accuracy(w, FullestBin(), 1, 4000, gen)
    assert acc == pytest.approx(0.54, abs=0.04)


def test_final_evaluation_margins_are_paired_on_the_same_episodes():
    w = _small()
    policy = _randomised(LocalPolicyNet(), seed=6)
    dispatcher = _randomised(DispatcherNet(), seed=7)
    ev = final_evaluation(w, dispatcher, policy, 5, rollouts=12, seed=3,
                          protocol=get_protocol("ours"), select_episodes=5)  # fmt: skip
    local = SampledLocal(policy)
    # the constant is chosen on the held-out stream ...
    held = [
        float(
            simulate(
                w, ConstantDispatcher(b), local, 5, 5, torch_generator(3, SELECT_STREAM)
            ).returns.mean()
        )
        for b in range(NUM_BINS)
    ]
    assert ev.best_constant_bin == int(np.argmax(held))
    assert choose_constant(w, local, 5, 5, 3) == (ev.best_constant_bin, held)
    # ... and evaluated with the pair on the final episodes, episode by episode
    trained = simulate(
        w, GreedyDispatcher(dispatcher), local, 5, 12, torch_generator(3, FINAL_STREAM)
    )
    const = simulate(
        w, ConstantDispatcher(ev.best_constant_bin), local, 5, 12, torch_generator(3, FINAL_STREAM)
    )
    diff = (trained.returns - const.returns).double()
    assert ev.value == float(trained.returns.mean())
    assert ev.best_constant_value == float(const.returns.mean())
    assert ev.margin == pytest.approx(float(diff.mean()), abs=1e-9)
    assert ev.margin_stderr == pytest.approx(float(diff.std()) / 12**0.5, abs=1e-9)
    low, high = ev.margin_interval
    assert high - low == pytest.approx(2 * 1.96 * ev.margin_stderr)
    assert ev.horizon == 15 and ev.protocol == "ours"


def test_paper_protocol_evaluates_at_horizon_50_with_greedy_robots():
    w = ContinuousWarehouse(n=60)
    policy = _randomised(LocalPolicyNet(), seed=8)
    dispatcher = _randomised(DispatcherNet(sees_global_state=False), seed=9)
    ev = final_evaluation(w, dispatcher, policy, 5, rollouts=4, seed=1,
                          protocol=get_protocol("paper"), select_episodes=2)  # fmt: skip
    assert ev.horizon == 50 and ev.protocol == "paper"

    class Greedy:
        def act(self, obs, u):
            with torch.no_grad():
                return torch.argmax(policy(obs), dim=-1)

    w50 = ContinuousWarehouse(n=60, horizon=50)
    ref = simulate(
        w50, GreedyDispatcher(dispatcher), Greedy(), 5, 4, torch_generator(1, FINAL_STREAM)
    )
    assert ev.value == pytest.approx(float(ref.returns.mean()), rel=1e-6)
    with pytest.raises(AltmarlError, match="protocol"):
        get_protocol("authors")
