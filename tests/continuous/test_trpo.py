"""The TRPO step (``continuous/trpo.py``): the KL radius, improvement, a rejected line search."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")

from altmarl.continuous.networks import LocalPolicyNet  # noqa: E402
from altmarl.continuous.trpo import (  # noqa: E402
    TRPOConfig,
    categorical_kl,
    flat_params,
    trpo_step,
)
from continuous_helpers import _trpo_batch  # noqa: E402


def _kl(policy, ref, obs):
    with torch.no_grad():
        return float(
            categorical_kl(torch.log_softmax(ref(obs), -1), torch.log_softmax(policy(obs), -1))
        )


def test_trpo_accepted_step_respects_kl_radius_and_improves():
    torch.manual_seed(0)
    obs, actions, adv = _trpo_batch(0)
    for radius in (0.01, 0.05):
        policy = LocalPolicyNet()
        ref = LocalPolicyNet()
        ref.load_state_dict(policy.state_dict())
        info = trpo_step(policy, obs, actions, adv, TRPOConfig(max_kl=radius))
        assert info.accepted and info.improvement > 0
        kl = _kl(policy, ref, obs)
        assert kl == pytest.approx(info.kl, rel=1e-4)
        assert kl <= 1.5 * radius
        assert kl > 0.1 * radius  # a real step, not a no-op


def test_trpo_rejected_line_search_leaves_parameters_unchanged():
    torch.manual_seed(1)
    obs, actions, adv = _trpo_batch(1)
    policy = LocalPolicyNet()
    before = flat_params(policy).clone()
    # no step can satisfy KL <= 1e-12 * radius: every trial fails, the update is undone
    info = trpo_step(policy, obs, actions, adv, TRPOConfig(kl_accept_factor=1e-12))
    assert not info.accepted and info.trials == 10 and info.step_fraction == 0.0
    assert torch.equal(flat_params(policy), before)
    # zero advantages: no improving direction at all
    info = trpo_step(policy, obs, actions, torch.zeros(6000))
    assert not info.accepted and torch.equal(flat_params(policy), before)
