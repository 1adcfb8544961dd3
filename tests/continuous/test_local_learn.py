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
