"""sb3-contrib's TRPO as the continuous study's L step (``--local-algo sb3-trpo``): the robots'
VecEnv is online execution, the networks move in and out exactly, the step respects the KL
radius and the seed, leaves global random state alone, and runs in the study."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from altmarl.continuous.env import ContinuousWarehouse  # noqa: E402
from altmarl.continuous.local_learn import LocalLearnConfig  # noqa: E402
from altmarl.continuous.networks import CriticNet, DispatcherNet, LocalPolicyNet  # noqa: E402
from altmarl.continuous.rollout import GreedyDispatcher, simulate  # noqa: E402
from altmarl.continuous.sb3_learner import (  # noqa: E402
    RobotVecEnv,
    sb3_local_best_response,
)
from altmarl.continuous.trpo import categorical_kl, flat_params  # noqa: E402

W = ContinuousWarehouse(n=30, horizon=10)


class Stay:
    """Every robot stays (action 0), whatever the uniforms."""

    def act(self, obs, u):
        return torch.zeros(u.shape, dtype=torch.long)


def _nets(seed: int = 0):
    """Fresh networks, the robot policy made far from uniform (so a proposal that did not
    start from it would be far from it)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dispatcher, policy, critic = DispatcherNet(), LocalPolicyNet(), CriticNet()
    with torch.no_grad():
        policy.body[4].weight.mul_(100.0)
    return dispatcher, policy, critic


def test_vecenv_is_online_execution_of_the_robots():
    dispatcher = GreedyDispatcher(_nets()[0])
    env = RobotVecEnv(W, dispatcher, 4, episodes=3, generator=torch.Generator().manual_seed(7))
    assert env.num_envs == 3 * W.n
    obs = env.reset()
    rewards = []
    for t in range(W.horizon):
        assert np.allclose(obs[:, 2], t / W.horizon)
        obs, r, done, infos = env.step(np.zeros(env.num_envs, dtype=np.int64))
        rewards.append(r.reshape(3, W.n))
        assert done.all() == (t == W.horizon - 1) and done.any() == done.all()
    assert "terminal_observation" in infos[0] and np.allclose(obs[:, 2], 0.0)  # auto-reset
    # the same draws as simulate with the robots staying: identical episodes
    ref = simulate(W, dispatcher, Stay(), 4, 3, torch.Generator().manual_seed(7), record=True)
    assert torch.equal(env.last_s_g, ref.s_g) and torch.equal(env.last_s_l, ref.s_l)
    assert torch.allclose(env.last_returns, ref.returns)
    assert np.allclose(np.stack(rewards), ref.local_rewards.numpy())  # each robot's own r_l


def _step(seed: int, config: LocalLearnConfig):
    dispatcher, policy, critic = _nets()
    opt = torch.optim.Adam(critic.parameters(), lr=config.critic_lr)
    gen = torch.Generator().manual_seed(seed)
    before = (flat_params(policy).clone(), flat_params(critic).clone())
    proposal, info = sb3_local_best_response(
        W, GreedyDispatcher(dispatcher), policy, critic, opt, 3, gen, config
    )
    return policy, critic, opt, proposal, info, before


def test_sb3_step_respects_the_kl_radius_and_keeps_the_networks_apart():
    config = LocalLearnConfig(algo="sb3-trpo", episodes=2)
    policy, critic, opt, proposal, info, before = _step(0, config)
    assert torch.equal(flat_params(policy), before[0])  # the incumbent is untouched
    assert not torch.equal(flat_params(critic), before[1])  # the critic learned in place
    assert opt.state  # and its Adam moments came back
    assert info["accepted_steps"] == 1 and info["step_fraction"] == 1.0
    obs = torch.cat([info["s_g"].reshape(-1, 1).expand(-1, W.n).reshape(-1, 1),
                     info["s_l"].reshape(-1, 1)], dim=1)  # fmt: skip
    with torch.no_grad():
        kl = float(categorical_kl(torch.log_softmax(policy(obs), -1),
                                  torch.log_softmax(proposal(obs), -1)))  # fmt: skip
    # SB3 accepts a step with KL < target on ITS batch (this is the last batch itself)
    assert 1e-4 < kl < config.trpo.max_kl and info["kl"] == pytest.approx(kl, rel=0.05)
    assert info["s_g"].shape == (W.horizon, 2) and info["s_l"].shape == (W.horizon, 2, W.n)


def test_sb3_step_is_seeded_and_leaves_global_random_state_alone():
    config = LocalLearnConfig(algo="sb3-trpo", episodes=1, updates=2)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()  # noqa: NPY002
    a = _step(3, config)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])  # noqa: NPY002
    b = _step(3, config)
    c = _step(4, config)
    assert torch.equal(flat_params(a[3]), flat_params(b[3]))
    assert torch.equal(flat_params(a[1]), flat_params(b[1]))
    assert a[4]["batch_return"] == b[4]["batch_return"] != c[4]["batch_return"]
    assert a[4]["accepted_steps"] <= 2


def test_training_runs_the_sb3_learner(tmp_path):
    from altmarl.continuous.training import ContinuousConfig, train_continuous
    from altmarl.experiments.continuous_study import ContinuousStudy

    local = LocalLearnConfig(algo="sb3-trpo")
    cfg = ContinuousConfig(k=2, n=20, horizon=8, alternations=1, eval_episodes=2,
                           final_rollouts=2, local=local)  # fmt: skip
    res = train_continuous(cfg, out_dir=tmp_path)
    row = next(r for r in res.history if r.player == "local")
    assert row.candidate == "sb3-trpo" and row.details["kl"] > 0
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["local"]["algo"] == "sb3-trpo"
    ContinuousStudy(local_algo="sb3-trpo").validate()  # the study accepts the name
