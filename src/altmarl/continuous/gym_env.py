"""A Gymnasium environment for the representative robot of the continuous warehouse (G.2).

The learner controls ONE robot (a uniformly random index per episode); the other ``n - 1``
robots follow the current shared policy and the dispatcher its fixed policy, both given at
construction (``None``: uniform random). Observation ``(s_g, s_i)`` as float32 in
``[-2, 2]^2``; action in ``{0: stay, 1: +0.05, 2: -0.05}``; reward the robot's own
``r_l(s_i, s_g, a_i)`` (it can be negative: the movement cost), which is the representative
agent's share of the cooperative reward (SPEC eq. 1); the team's stage reward is in
``info["stage_reward"]``. Episodes are truncated after ``horizon`` steps.
``gymnasium.make("altmarl/RepresentativeRobot-v0", render_mode="rgb_array")`` after
``import altmarl.envs``; ``render()`` draws the robots' bins, the dispatcher and the robot.

The dynamics are the batched kernels of ``altmarl.continuous.env`` with a batch of one
episode; all randomness comes from ``self.np_random`` (seeded by ``reset(seed=...)``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from altmarl.continuous.env import (
    NUM_BINS,
    ContinuousWarehouse,
    bin_counts,
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
)
from altmarl.continuous.networks import DispatcherNet, LocalPolicyNet
from altmarl.continuous.rollout import (
    GreedyDispatcher,
    SampledLocal,
    UniformDispatcher,
    UniformLocal,
)
from altmarl.envs.rendering import population_frame
from altmarl.errors import AltmarlError


class RepresentativeRobotEnv(gym.Env):
    """The representative robot's MDP against a fixed dispatcher and population policy."""

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        k: int = 10,
        warehouse: ContinuousWarehouse | None = None,
        dispatcher: DispatcherNet | None = None,
        local_policy: LocalPolicyNet | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise AltmarlError(f"render_mode {render_mode!r} must be None or 'rgb_array'")
        self.render_mode = render_mode
        self.warehouse = warehouse or ContinuousWarehouse()
        self.warehouse.check_k(k)
        self.k = k
        self._dispatcher = (
            UniformDispatcher() if dispatcher is None else GreedyDispatcher(dispatcher)
        )
        self._local = UniformLocal() if local_policy is None else SampledLocal(local_policy)
        w = self.warehouse
        self.observation_space = spaces.Box(w.low, w.high, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Discrete(3)
        self._gen: torch.Generator | None = None

    def _obs(self) -> np.ndarray:
        return np.array([float(self._s_g[0]), float(self._s_l[0, self._me])], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._gen = torch.Generator().manual_seed(int(self.np_random.integers(2**62)))
        self._s_g, self._s_l = initial_states(self.warehouse, 1, self._gen)
        self._me = int(self.np_random.integers(self.warehouse.n))
        self._t = 0
        return self._obs(), {}

    @torch.no_grad()
    def step(self, action):
        if self._gen is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        w, gen, n = self.warehouse, self._gen, self.warehouse.n
        s_g, s_l = self._s_g, self._s_l
        bins = bin_index(s_l)
        hist = subsample_histogram(bins, self.k, torch.rand(1, n, generator=gen))
        a_g = self._dispatcher.act(dispatcher_observation(s_g, hist), torch.rand(1, generator=gen))
        a_l = self._local.act(robot_observation(s_g, s_l), torch.rand(1, n, generator=gen))
        a_l[0, self._me] = int(action)
        r_l = local_reward(w, s_l, s_g, a_l)
        stage = float(global_reward(w, s_g, a_g)[0] + r_l.mean())
        info = {"stage_reward": stage, "a_g": int(a_g[0]), "mode": int(mode_bin(bins)[0])}
        self._s_g = global_step(w, s_g, a_g, torch.randn(1, generator=gen))
        self._s_l = local_step(w, s_l, a_l, torch.randn(1, n, generator=gen))
        self._t += 1
        truncated = self._t >= w.horizon
        return self._obs(), float(r_l[0, self._me]), False, truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._gen is None:
            return None
        w = self.warehouse
        occ = bin_counts(bin_index(self._s_l))[0].numpy() / w.n

        def position(x: float) -> float:  # zone coordinates of a position in [low, high]
            return (x - w.low) / (w.high - w.low) * NUM_BINS

        return population_frame(
            occ,
            position(float(self._s_g[0])),
            agent_position=position(float(self._s_l[0, self._me])),
        )
