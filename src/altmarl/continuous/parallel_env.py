"""Online execution (SPEC §6) of the continuous warehouse (G.2) as a PettingZoo ``ParallelEnv``.

Agents ``"global"`` (the dispatcher) and ``"local_0" .. "local_{n-1}"`` (the robots). Every step:

* the dispatcher has observed ``(s_g, normalised 5-bin histogram of a FRESH uniformly random
  k-subset of the robots drawn WITHOUT replacement)``, ``Box(6)`` (the input of
  :class:`~altmarl.continuous.networks.DispatcherNet`); action: a bin in ``Discrete(5)``;
* robot ``i`` has observed its own position and the dispatcher's, ``(s_g, s_i)`` in
  ``Box(2)``, in the order :class:`~altmarl.continuous.networks.LocalPolicyNet` and
  ``altmarl/RepresentativeRobot-v0`` use, so a policy trained in either runs here unchanged;
  action in ``Discrete(3)`` (stay, +0.05, -0.05);
* reward ``r = r_g(s_g, a_g) + (1/n) sum_i r_l(s_i, s_g, a_i)`` (SPEC eq. 1) at the CURRENT
  state, then both transitions (:mod:`altmarl.continuous.env`'s kernels, batch of one).

Rewards: the game is cooperative, so EVERY agent receives the common stage reward ``r``; a
robot's own ``r_l`` (which can be negative: the movement cost) is in its info
(``"local_reward"``), the robots' 5-bin counts at the step's start in the dispatcher's
(``"bin_counts"``). Episodes are truncated after the warehouse's ``horizon`` steps. The
random draws come from a torch generator seeded from ``reset(seed=...)``.

:class:`NetworkActors` runs a trained pair (a continuous run directory) inside the environment;
:func:`altmarl.envs.parallel.episode_returns` collects the discounted returns that
:func:`altmarl.continuous.rollout.simulate` estimates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from altmarl.continuous.env import (
    NUM_BINS,
    NUM_GLOBAL_ACTIONS,
    NUM_LOCAL_ACTIONS,
    ContinuousWarehouse,
    bin_counts,
    bin_index,
    dispatcher_observation,
    global_reward,
    global_step,
    initial_states,
    local_reward,
    local_step,
    subsample_histogram,
)
from altmarl.continuous.networks import DispatcherNet, LocalPolicyNet
from altmarl.continuous.rollout import GreedyDispatcher, SampledLocal
from altmarl.envs.parallel import GLOBAL, episode_returns, local_agent
from altmarl.envs.rendering import population_frame
from altmarl.errors import AltmarlError

__all__ = ["ContinuousOnlineExecutionEnv", "NetworkActors", "episode_returns"]


class ContinuousOnlineExecutionEnv(ParallelEnv):
    """The continuous warehouse with ``n`` robots, ``k`` of them subsampled each step."""

    metadata: dict[str, Any] = {  # noqa: RUF012 (PettingZoo's convention)
        "name": "altmarl_continuous_online_execution_v0",
        "render_modes": ["rgb_array"],
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        k: int = 10,
        warehouse: ContinuousWarehouse | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.warehouse = warehouse or ContinuousWarehouse()
        self.warehouse.check_k(k)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise AltmarlError(f"render_mode {render_mode!r} must be None or 'rgb_array'")
        self.k, self.render_mode = k, render_mode
        w = self.warehouse
        self.possible_agents = [GLOBAL] + [local_agent(i) for i in range(w.n)]
        self.agents: list[str] = []
        low = np.array([w.low] + [0.0] * NUM_BINS, dtype=np.float32)
        high = np.array([w.high] + [1.0] * NUM_BINS, dtype=np.float32)
        self._global_obs = spaces.Box(low, high, dtype=np.float32)
        self._local_obs = spaces.Box(w.low, w.high, shape=(2,), dtype=np.float32)
        self._global_act = spaces.Discrete(NUM_GLOBAL_ACTIONS)
        self._local_act = spaces.Discrete(NUM_LOCAL_ACTIONS)
        self._gen = torch.Generator()
        self._np_rng = np.random.default_rng()
        self._s_l: torch.Tensor | None = None
        self._last_action: int | None = None

    @property
    def gamma(self) -> float:
        return self.warehouse.gamma

    def observation_space(self, agent: str) -> spaces.Space:
        # the same object on every call (PettingZoo's rule); one per kind of agent
        return self._global_obs if agent == GLOBAL else self._local_obs

    def action_space(self, agent: str) -> spaces.Space:
        return self._global_act if agent == GLOBAL else self._local_act

    def _observations(self) -> dict[str, np.ndarray]:
        assert self._s_l is not None
        n = self.warehouse.n
        hist = subsample_histogram(
            bin_index(self._s_l), self.k, torch.rand(1, n, generator=self._gen)
        )
        obs = {GLOBAL: dispatcher_observation(self._s_g, hist)[0].numpy().astype(np.float32)}
        g = np.float32(self._s_g[0])
        for i, s in enumerate(self._s_l[0].numpy().astype(np.float32)):
            obs[local_agent(i)] = np.array([g, s], dtype=np.float32)
        return obs

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._np_rng = np.random.default_rng(seed)
        self._gen = torch.Generator().manual_seed(int(self._np_rng.integers(2**62)))
        self._s_g, self._s_l = initial_states(self.warehouse, 1, self._gen)
        self._t = 0
        self._last_action = None
        self.agents = list(self.possible_agents)
        return self._observations(), {agent: {} for agent in self.agents}

    @torch.no_grad()
    def step(self, actions: dict[str, Any]):
        if self._s_l is None or not self.agents:
            raise AltmarlError("call reset() before step() (the episode has ended)")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise AltmarlError(f"actions lack agent(s) {', '.join(missing[:3])}: every agent acts")
        w, n = self.warehouse, self.warehouse.n
        a_g = int(actions[GLOBAL])
        a_l = np.fromiter((actions[local_agent(i)] for i in range(n)), np.int64, n)
        if not 0 <= a_g < NUM_GLOBAL_ACTIONS or a_l.min() < 0 or a_l.max() >= NUM_LOCAL_ACTIONS:
            raise AltmarlError(
                f"actions must lie in Discrete({NUM_GLOBAL_ACTIONS}) (global) and "
                f"Discrete({NUM_LOCAL_ACTIONS}) (robots)"
            )
        s_g, s_l = self._s_g, self._s_l
        ag, al = torch.tensor([a_g]), torch.from_numpy(a_l)[None, :]
        r_l = local_reward(w, s_l, s_g, al)
        reward = float(global_reward(w, s_g, ag)[0] + r_l.mean())
        counts = bin_counts(bin_index(s_l))[0].numpy()
        self._s_g = global_step(w, s_g, ag, torch.randn(1, generator=self._gen))
        self._s_l = local_step(w, s_l, al, torch.randn(1, n, generator=self._gen))
        self._t += 1
        self._last_action = a_g
        done = self._t >= w.horizon
        agents = self.agents
        obs = self._observations()
        infos: dict[str, dict[str, Any]] = {
            local_agent(i): {"local_reward": r} for i, r in enumerate(r_l[0].tolist())
        }
        infos[GLOBAL] = {"bin_counts": counts}
        if done:
            self.agents = []
        return (
            obs,
            dict.fromkeys(agents, reward),
            dict.fromkeys(agents, False),
            dict.fromkeys(agents, done),
            infos,
        )

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._s_l is None:
            return None
        w = self.warehouse
        occ = bin_counts(bin_index(self._s_l))[0].numpy() / w.n
        pos = (float(self._s_g[0]) - w.low) / (w.high - w.low) * NUM_BINS
        return population_frame(occ, pos, global_action=self._last_action)

    def close(self) -> None:
        pass


class NetworkActors:
    """A trained pair acting in :class:`ContinuousOnlineExecutionEnv`: the dispatcher greedy on
    its observation, every robot sampling ``a_i ~ softmax(pi_l(s_g, s_i))`` (as in
    :func:`~altmarl.continuous.rollout.simulate`)."""

    def __init__(self, dispatcher: DispatcherNet, local_policy: LocalPolicyNet, seed: int = 0):
        self._dispatcher = GreedyDispatcher(dispatcher)
        self._local = SampledLocal(local_policy)
        self._gen = torch.Generator().manual_seed(seed)

    @classmethod
    def from_run_dir(cls, run_dir: str | Path, seed: int = 0) -> NetworkActors:
        """The pair of a continuous run directory (``reproduce continuous``'s ``runs/k*_seed*``)."""
        from altmarl.continuous.training import load_run

        _, dispatcher, policy = load_run(run_dir)
        return cls(dispatcher, policy, seed)

    @torch.no_grad()
    def actions(self, observations: dict[str, np.ndarray]) -> dict[str, int]:
        out: dict[str, int] = {}
        if GLOBAL in observations:
            obs = torch.from_numpy(observations[GLOBAL])[None, :]
            out[GLOBAL] = int(self._dispatcher.act(obs, torch.rand(1, generator=self._gen))[0])
        names = [a for a in observations if a != GLOBAL]
        if names:
            obs = torch.from_numpy(np.stack([observations[a] for a in names]))[None]
            u = torch.rand(1, len(names), generator=self._gen)
            out.update(zip(names, self._local.act(obs, u)[0].tolist(), strict=True))
        return out
