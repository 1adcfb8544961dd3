"""Online execution (SPEC §6) of the continuous warehouse, batched over episodes and robots.

Every step of every episode: draw ``Delta_t``, a uniformly random ``k``-subset of the ``n``
robots (without replacement); the dispatcher acts on ``(s_g, histogram of Delta_t)``; every
robot draws ``a_i ~ pi_l(. | s_g, s_i)``; collect ``r = r_g + (1/n) sum_i r_l``; transition.

Common random numbers. The random draws of a step are made in a fixed order and do not
depend on the policies (subsample keys, a dispatcher uniform, one uniform per robot for
its action by inverse CDF, the Gaussian noises), so two pairs simulated from the same seed
see the same randomness; UPDATE's comparisons (``training``) rely on this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from altmarl.continuous.env import (
    NUM_GLOBAL_ACTIONS,
    NUM_LOCAL_ACTIONS,
    ContinuousWarehouse,
    bin_index,
    dispatcher_observation,
    global_reward,
    global_step,
    initial_states,
    local_reward,
    local_step,
    mode_bin,
    robot_observation,
    subsample_histogram,
    subsample_indices,
)
from altmarl.continuous.networks import DispatcherNet, LocalPolicyNet


class GlobalActor(Protocol):
    """A dispatcher: ``obs [B, 6]``, uniforms ``[B]`` -> global actions ``[B]`` (int64)."""

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor: ...


class LocalActor(Protocol):
    """The shared robot policy: ``obs [B, n, 2]``, uniforms ``[B, n]`` -> actions ``[B, n]``."""

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class GreedyDispatcher:
    """``a_g = argmax`` of the dispatcher network's logits (deterministic, SPEC §2)."""

    net: DispatcherNet

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.argmax(self.net(obs), dim=-1)


@dataclass(frozen=True)
class UniformDispatcher:
    """The uniform-random baseline dispatcher."""

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.clamp((u * NUM_GLOBAL_ACTIONS).long(), max=NUM_GLOBAL_ACTIONS - 1)


@dataclass(frozen=True)
class SampledLocal:
    """``a_i ~ softmax(net(s_g, s_i))`` by inverse CDF on the given uniforms."""

    net: LocalPolicyNet

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        cdf = torch.cumsum(torch.softmax(self.net(obs), dim=-1), dim=-1)
        return torch.clamp((u[..., None] > cdf).sum(-1), max=NUM_LOCAL_ACTIONS - 1)


@dataclass(frozen=True)
class UniformLocal:
    """The uniform-random baseline robot policy."""

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.clamp((u * NUM_LOCAL_ACTIONS).long(), max=NUM_LOCAL_ACTIONS - 1)


@dataclass(frozen=True)
class Rollout:
    """A batch of ``B`` episodes of ``H`` steps.

    ``returns [B]`` discounted returns ``sum_t gamma^t r_t``; ``mode_hits [H, B]`` whether
    ``a_g`` equalled the true population mode; optional trajectories (``record=True``):
    ``s_g [H, B]``, ``s_l [H, B, n]``, ``actions [H, B, n]``, ``local_rewards [H, B, n]``,
    ``global_actions``/``modes [H, B]``, ``stage_rewards [H, B]``, ``sampled [H, B, k]`` (the
    indices of the robots the dispatcher sampled).
    """

    returns: torch.Tensor
    mode_hits: torch.Tensor
    s_g: torch.Tensor | None = None
    s_l: torch.Tensor | None = None
    actions: torch.Tensor | None = None
    local_rewards: torch.Tensor | None = None
    global_actions: torch.Tensor | None = None
    modes: torch.Tensor | None = None
    stage_rewards: torch.Tensor | None = None
    sampled: torch.Tensor | None = None

    @property
    def mode_accuracy(self) -> float:
        return float(self.mode_hits.float().mean())


@torch.no_grad()
def simulate(
    w: ContinuousWarehouse,
    dispatcher: GlobalActor,
    local: LocalActor,
    k: int,
    episodes: int,
    seed: int | torch.Generator,
    *,
    horizon: int | None = None,
    record: bool = False,
) -> Rollout:
    """Online execution of ``(dispatcher, local)`` for ``episodes`` episodes of ``horizon``
    steps (default ``w.horizon``) on ``w.n`` robots with ``k``-subsampling."""
    w.check_k(k)
    if episodes < 1:
        raise ValueError(f"episodes = {episodes} must be >= 1")
    H = w.horizon if horizon is None else horizon
    gen = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(seed)
    s_g, s_l = initial_states(w, episodes, gen)
    B, n = s_l.shape
    returns = torch.zeros(B)
    hits = torch.zeros(H, B, dtype=torch.bool)
    rec: dict[str, list[torch.Tensor]] = {
        key: [] for key in ("s_g", "s_l", "actions", "local_rewards", "global_actions", "modes")
    }
    stage: list[torch.Tensor] = []
    sampled: list[torch.Tensor] = []
    discount = 1.0
    for t in range(H):
        # Fixed draw order per step (common random numbers across pairs).
        u_sub = torch.rand(B, n, generator=gen)
        u_g = torch.rand(B, generator=gen)
        u_l = torch.rand(B, n, generator=gen)
        z_g = torch.randn(B, generator=gen)
        z_l = torch.randn(B, n, generator=gen)
        bins = bin_index(s_l)
        hist = subsample_histogram(bins, k, u_sub)
        a_g = dispatcher.act(dispatcher_observation(s_g, hist), u_g)
        a_l = local.act(robot_observation(s_g, s_l), u_l)
        r_l = local_reward(w, s_l, s_g, a_l)
        r = global_reward(w, s_g, a_g) + r_l.mean(dim=1)
        returns += discount * r
        discount *= w.gamma
        mode = mode_bin(bins)
        hits[t] = a_g == mode
        if record:
            for key, val in (
                ("s_g", s_g),
                ("s_l", s_l),
                ("actions", a_l),
                ("local_rewards", r_l),
                ("global_actions", a_g),
                ("modes", mode),
            ):
                rec[key].append(val)
            stage.append(r)
            # the same keys subsample_histogram ranked: the robots a_g was chosen from
            sampled.append(subsample_indices(k, u_sub))
        s_g, s_l = global_step(w, s_g, a_g, z_g), local_step(w, s_l, a_l, z_l)
    if not record:
        return Rollout(returns=returns, mode_hits=hits)
    stacked = {key: torch.stack(vals) for key, vals in rec.items()}
    return Rollout(
        returns=returns,
        mode_hits=hits,
        stage_rewards=torch.stack(stage),
        sampled=torch.stack(sampled),
        **stacked,
    )
