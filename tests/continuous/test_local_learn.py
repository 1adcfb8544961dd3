"""The continuous L step's update rules (``continuous/local_learn.py``): the ablations raise
the surrogate."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")

from altmarl.continuous.networks import LocalPolicyNet  # noqa: E402
from continuous_helpers import _trpo_batch  # noqa: E402


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_ablation_updates_raise_the_surrogate(algo):
    from altmarl.continuous.local_learn import LocalLearnConfig, _a2c, _ppo

    torch.manual_seed(2)
    obs, actions, adv = _trpo_batch(2)
    policy = LocalPolicyNet()

    def surrogate() -> float:
        with torch.no_grad():
            p = torch.softmax(policy(obs), -1).gather(1, actions[:, None]).squeeze(1)
            return float((p * adv).mean())

    before = surrogate()
    cfg = LocalLearnConfig(algo=algo, ppo_batch=1000)
    if algo == "ppo":
        _ppo(policy, obs, actions, adv, cfg, torch.Generator().manual_seed(0))
    else:
        _a2c(policy, obs, actions, adv, cfg, torch.optim.Adam(policy.parameters(), lr=3e-3))
    assert surrogate() > before


def test_trpo_and_critic_steps_give_the_same_bits_on_one_and_two_threads():
    """The L step runs TRPO and the critic on the rollouts' threads, which is safe only
    because their bits do not depend on the thread count: checked at a run's shapes (25,000
    samples, observations a column slice of the critic's inputs, 4,096-sample critic
    minibatches)."""
    import copy

    from altmarl.continuous.local_learn import LocalLearnConfig, fit_critic
    from altmarl.continuous.networks import CriticNet
    from altmarl.continuous.rollout import torch_threads
    from altmarl.continuous.trpo import flat_params, trpo_step

    cfg = LocalLearnConfig()
    n = cfg.learners * cfg.episodes * 100
    gen = torch.Generator().manual_seed(3)
    with torch_threads(1):  # the orthogonal initialisation depends on the thread count
        torch.manual_seed(3)
        policy, critic = LocalPolicyNet(), CriticNet()
    critic_in = torch.rand(n, 3, generator=gen)
    actions = torch.randint(0, 3, (n,), generator=gen)
    returns = torch.randn(n, generator=gen)
    adv = torch.randn(n, generator=gen)
    results = []
    for threads in (1, 2):
        with torch_threads(threads):
            assert torch.get_num_threads() == threads
            p, c = copy.deepcopy(policy), copy.deepcopy(critic)
            step = trpo_step(p, critic_in[:, :2], actions, adv, cfg.trpo)
            opt = torch.optim.Adam(c.parameters(), lr=cfg.critic_lr)
            loss = fit_critic(c, opt, critic_in, returns, cfg, torch.Generator().manual_seed(4))
        results.append((flat_params(p), flat_params(c), step.accepted, loss))
    (p1, c1, acc1, loss1), (p2, c2, acc2, loss2) = results
    assert acc1 and acc2  # a step was taken: the parameters moved
    assert not torch.equal(p1, flat_params(policy))
    assert torch.equal(p1, p2) and torch.equal(c1, c2) and loss1 == loss2
