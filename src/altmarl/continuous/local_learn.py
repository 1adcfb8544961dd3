"""L step of the continuous extension (SPEC §4, §7 G.2): a representative-robot best response.

Fix the dispatcher. Simulate ONE batch of ``B`` episodes in which all ``n`` robots follow
the current shared policy; because the policy is shared and the robots exchangeable, every
robot of every episode is a sample of the representative robot, so one batch yields
``B x n x H`` (observation, action, return) samples. A robot's objective is its own
discounted local reward ``sum_t gamma^t r_l(s_i, s_g, a_i)``: its actions move only its own
state, and its effect on ``a_g`` through the subsample is ``O(1/n)`` (mean-field limit), so
this is the policy gradient of the cooperative value ``V`` with respect to the shared
policy. Advantages are Monte-Carlo returns minus a learned critic, normalised per batch;
the critic is fitted afterwards by MSE on the same returns (loss ``0.5 * MSE``).

The policy update is TRPO (default) or, for ablations, PPO (clipped surrogate) or A2C
(one advantage-weighted gradient step per batch).

Threads. The TRPO step and the critic's steps run on the rollouts' torch threads
(:func:`~altmarl.continuous.rollout.rollout_threads`; a run's own ``threads`` when none are
lent). This is an empirical property of the torch/MKL build, like the rollouts' own: they
gave the same bits on one and two threads at every batch tried (2,500-100,000 samples;
``tests/continuous/test_local_learn.py`` checks the run's shapes). PPO's and A2C's clipped
minibatch steps stay on the run's ``threads`` (not checked), and so does the G step's
regression, whose last-layer weight gradient (five outputs) does change with the thread
count in its last digits. The networks are initialised on the run's ``threads`` as well:
the QR factorisation of the orthogonal initialisation depends on the thread count.
"""

from __future__ import annotations

import copy
import importlib.util
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from altmarl.continuous.env import ContinuousWarehouse, robot_observation
from altmarl.continuous.networks import CriticNet, LocalPolicyNet
from altmarl.continuous.rollout import (
    GlobalActor,
    SampledLocal,
    rollout_thread_count,
    simulate,
    torch_threads,
)
from altmarl.continuous.trpo import TRPOConfig, trpo_step
from altmarl.errors import AltmarlError

#: ``sb3-trpo``: sb3-contrib's TRPO through a VecEnv of the robots (``sb3_learner``).
LOCAL_ALGOS = ("trpo", "ppo", "a2c", "sb3-trpo")


@dataclass(frozen=True)
class LocalLearnConfig:
    """L-step settings: algorithm, batch (episodes per update, updates per L step), critic."""

    algo: str = "trpo"
    episodes: int = 2
    learners: int = 125
    updates: int = 1
    trpo: TRPOConfig = field(default_factory=TRPOConfig)
    critic_lr: float = 3e-3
    critic_steps: int = 5
    critic_batch: int = 4096
    value_coef: float = 0.5
    ppo_clip: float = 0.2
    ppo_epochs: int = 4
    ppo_batch: int = 8192
    ppo_lr: float = 3e-4
    a2c_lr: float = 3e-3

    def __post_init__(self) -> None:
        if self.algo not in LOCAL_ALGOS:
            raise AltmarlError(f"local algo {self.algo!r} must be one of {LOCAL_ALGOS}")
        if self.algo == "sb3-trpo" and importlib.util.find_spec("sb3_contrib") is None:
            raise AltmarlError(
                "local algo 'sb3-trpo' needs stable-baselines3 and sb3-contrib: "
                "pip install 'altmarl[deep]'"
            )
        if self.episodes < 1 or self.updates < 1 or self.learners < 1:
            raise AltmarlError("local episodes, learners and updates must be >= 1")


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """Per-step Monte-Carlo returns ``G_t = r_t + gamma G_{t+1}`` along dim 0 (``[H, ...]``),
    truncated at the horizon."""
    out = torch.empty_like(rewards)
    acc = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        out[t] = acc
    return out


def _learners(
    tensors: tuple[torch.Tensor, ...], learners: int, generator: torch.Generator
) -> tuple[torch.Tensor, ...]:
    """The trajectories ``[H, B, learners]`` of ``learners`` robots per episode, a uniformly
    random subset of each episode's ``n`` (all of them when ``learners >= n``).

    Why a subset: the policy gradient's noise comes mostly from the few episodes of a batch
    (every robot of an episode shares its ``s_g`` path and start), not from the number of
    robots, while the update's cost grows with the samples."""
    H, B, n = tensors[0].shape
    if learners >= n:
        return tensors
    keys = torch.rand(B, n, generator=generator)
    idx = torch.topk(keys, learners, dim=1, largest=False).indices  # [B, learners]
    idx = idx[None].expand(H, B, learners)
    return tuple(torch.gather(x, 2, idx) for x in tensors)


def _critic_inputs(s_g: torch.Tensor, s_l: torch.Tensor) -> torch.Tensor:
    """``[H, B, n, 3]``: ``(s_g, s_i, t / H)``."""
    H = s_l.shape[0]
    obs = robot_observation(s_g.reshape(-1), s_l.reshape(-1, s_l.shape[-1]))
    obs = obs.reshape(*s_l.shape, 2)
    time = (torch.arange(H, dtype=obs.dtype) / H)[:, None, None, None].expand(*s_l.shape, 1)
    return torch.cat([obs, time], dim=-1)


def fit_critic(
    critic: CriticNet,
    optimiser: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    config: LocalLearnConfig,
    generator: torch.Generator,
) -> float:
    """``critic_steps`` Adam steps on minibatches of ``0.5 * MSE(V, G)``; returns last loss."""
    loss = torch.tensor(0.0)
    for _ in range(config.critic_steps):
        idx = torch.randint(0, inputs.shape[0], (config.critic_batch,), generator=generator)
        loss = config.value_coef * ((critic(inputs[idx]) - targets[idx]) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return float(loss.detach())


def _ppo(policy, obs, actions, adv, config: LocalLearnConfig, gen) -> dict[str, Any]:
    opt = torch.optim.Adam(policy.parameters(), lr=config.ppo_lr)
    with torch.no_grad():
        old = torch.log_softmax(policy(obs), -1).gather(1, actions[:, None]).squeeze(1)
    for _ in range(config.ppo_epochs):
        perm = torch.randperm(obs.shape[0], generator=gen)
        for start in range(0, obs.shape[0], config.ppo_batch):
            i = perm[start : start + config.ppo_batch]
            logp = torch.log_softmax(policy(obs[i]), -1).gather(1, actions[i, None]).squeeze(1)
            ratio = torch.exp(logp - old[i])
            clipped = torch.clamp(ratio, 1 - config.ppo_clip, 1 + config.ppo_clip)
            loss = -torch.minimum(ratio * adv[i], clipped * adv[i]).mean()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
            opt.step()
    return {}


def _a2c(policy, obs, actions, adv, config: LocalLearnConfig, opt) -> dict[str, Any]:
    logp = torch.log_softmax(policy(obs), -1).gather(1, actions[:, None]).squeeze(1)
    loss = -(logp * adv).mean()
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
    opt.step()
    return {}


def local_best_response(
    w: ContinuousWarehouse,
    dispatcher: GlobalActor,
    policy: LocalPolicyNet,
    critic: CriticNet,
    critic_optimiser: torch.optim.Optimizer,
    k: int,
    generator: torch.Generator,
    config: LocalLearnConfig,
) -> tuple[LocalPolicyNet, dict[str, Any]]:
    """Propose ``pi_l'``: ``config.updates`` policy updates of a COPY of ``policy``, each on a
    fresh batch of ``config.episodes`` episodes against the fixed ``dispatcher``.

    The critic is updated in place (it is only a baseline). Returns the proposal, info (the
    last batch's population states for the G step, TRPO statistics)."""
    proposal = copy.deepcopy(policy)
    a2c_opt = torch.optim.Adam(proposal.parameters(), lr=config.a2c_lr)
    info: dict[str, Any] = {"kl": 0.0, "accepted_steps": 0, "step_fraction": 0.0}
    for _ in range(config.updates):
        roll = simulate(
            w, dispatcher, SampledLocal(proposal), k, config.episodes, generator, record=True
        )
        assert roll.s_l is not None and roll.s_g is not None and roll.actions is not None
        assert roll.local_rewards is not None
        s_l, actions, rewards = _learners(
            (roll.s_l, roll.actions, roll.local_rewards), config.learners, generator
        )
        returns = discounted_returns(rewards, w.gamma).reshape(-1)
        critic_in = _critic_inputs(roll.s_g, s_l).reshape(-1, 3)
        obs = critic_in[:, :2]
        actions = actions.reshape(-1)
        with torch.no_grad():
            adv = returns - critic(critic_in)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        if config.algo == "trpo":
            # on the rollouts' threads: the same bits on any number (module docstring)
            with torch_threads(rollout_thread_count()):
                step = trpo_step(proposal, obs, actions, adv, config.trpo)
            info["kl"] = step.kl
            info["accepted_steps"] += int(step.accepted)
            info["step_fraction"] = step.step_fraction
        elif config.algo == "ppo":
            _ppo(proposal, obs, actions, adv, config, generator)
        else:
            _a2c(proposal, obs, actions, adv, config, a2c_opt)
        with torch_threads(rollout_thread_count()):
            info["critic_loss"] = fit_critic(
                critic, critic_optimiser, critic_in, returns, config, generator
            )
        info["batch_return"] = float(roll.returns.mean())
        info["s_g"], info["s_l"] = roll.s_g, roll.s_l
    return proposal, info
