"""Online execution (SPEC §6, Algorithm 5) of a tabular game as a PettingZoo ``ParallelEnv``.

Agents ``"global"`` and ``"local_0" .. "local_{n-1}"``. Every step:

* the global agent has observed ``(s_g, c)``, ``c`` the count vector of a FRESH uniformly
  random ``k``-subset of the ``n`` local agents drawn WITHOUT replacement
  (``MultiDiscrete([|S_g|] + [k + 1] * |S_l|)``: ``s_g`` then the ``|S_l|`` counts);
* local agent ``i`` has observed ``(s_i, s_g)`` (``MultiDiscrete([|S_l|, |S_g|])``, the shared
  policy's input ``pi_l(a | s_l, s_g)``);
* the joint action is applied: reward ``r(s, a) = r_g(s_g, a_g) + (1/n) sum_i r_l(s_i, s_g, a_i)``
  (SPEC eq. 1), then ``s_g' ~ P_g(. | s_g, a_g)`` and, independently, ``s_i' ~ P_l(. | s_i, s_g,
  a_i)`` with the CURRENT ``s_g``; a new subsample is drawn for the next observation.

Rewards: the game is cooperative (every player's payoff is the common value ``V``, SPEC §2),
so EVERY agent receives the common stage reward ``r(s, a)``; a local agent's own term
``r_l(s_i, s_g, a_i)`` is in its info (``"local_reward"``), and the global agent's info holds
the counts of all ``n`` local states the step started from (``"counts"``: the true population
histogram, whose mode a dispatcher is judged against). Episodes are truncated after
``horizon`` steps (all agents at once); nothing terminates. All randomness comes from one
``numpy.random.Generator`` seeded by ``reset(seed=...)``.

:class:`PairActors` runs a policy pair (for instance a trained policy directory) inside the
environment, and :func:`episode_returns` collects discounted returns
``sum_{t < H} gamma^t r_t``, the quantity :func:`altmarl.simulate.evaluate` estimates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from altmarl.envs.rendering import population_frame
from altmarl.envs.representative import check_sizes, resolve_game
from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.policies import GlobalActor, LocalPolicy
from altmarl.policy_dir import load_policy_dir
from altmarl.seeding import Seed, as_generator
from altmarl.simulate.subsample import categorical, subsample_indices

GLOBAL = "global"


def local_agent(i: int) -> str:
    return f"local_{i}"


class OnlineExecutionEnv(ParallelEnv):
    """Algorithm 5 on a :class:`~altmarl.game.TabularGame` with ``n`` local agents, ``k``
    of them subsampled for the global agent each step."""

    metadata: dict[str, Any] = {  # noqa: RUF012 (PettingZoo's convention)
        "name": "altmarl_online_execution_v0",
        "render_modes": ["rgb_array"],
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        game: TabularGame | str | Path,
        n: int,
        k: int,
        horizon: int = 100,
        render_mode: str | None = None,
    ) -> None:
        self.game = resolve_game(game)
        check_sizes(n, k, horizon)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise AltmarlError(f"render_mode {render_mode!r} must be None or 'rgb_array'")
        self.n, self.k, self.horizon, self.render_mode = int(n), int(k), int(horizon), render_mode
        g = self.game
        self.possible_agents = [GLOBAL] + [local_agent(i) for i in range(self.n)]
        self.agents: list[str] = []
        self._global_obs = spaces.MultiDiscrete([g.num_sg] + [self.k + 1] * g.num_sl)
        self._local_obs = spaces.MultiDiscrete([g.num_sl, g.num_sg])
        self._global_act = spaces.Discrete(g.num_ag)
        self._local_act = spaces.Discrete(g.num_al)
        self._rng = np.random.default_rng()
        self._states: np.ndarray | None = None
        self._last_action: int | None = None

    @property
    def gamma(self) -> float:
        return self.game.gamma

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> spaces.Space:
        # the same object on every call (PettingZoo's rule); one per kind of agent
        return self._global_obs if agent == GLOBAL else self._local_obs

    def action_space(self, agent: str) -> spaces.Space:
        return self._global_act if agent == GLOBAL else self._local_act

    # ------------------------------------------------------------------ dynamics
    def _observations(self) -> dict[str, np.ndarray]:
        assert self._states is not None
        idx = subsample_indices(self.n, self.k, 1, self._rng)[0]
        self._sub = np.bincount(self._states[idx], minlength=self.game.num_sl)
        obs = {GLOBAL: np.concatenate([[self._s_g], self._sub]).astype(np.int64)}
        for i, s in enumerate(self._states.tolist()):
            obs[local_agent(i)] = np.array([s, self._s_g], dtype=np.int64)
        return obs

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        g, rng = self.game, self._rng
        rho = g.sample_local_distributions(rng, 1)
        self._states = categorical(np.broadcast_to(rho, (self.n, g.num_sl)), rng)
        self._s_g = int(g.sample_global_states(rng, 1)[0])
        self._t = 0
        self._last_action = None
        self.agents = list(self.possible_agents)
        return self._observations(), {agent: {} for agent in self.agents}

    def step(self, actions: dict[str, Any]):
        if self._states is None or not self.agents:
            raise AltmarlError("call reset() before step() (the episode has ended)")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise AltmarlError(f"actions lack agent(s) {', '.join(missing[:3])}: every agent acts")
        g, rng, s_g = self.game, self._rng, self._s_g
        a_g = int(actions[GLOBAL])
        a_l = np.fromiter((actions[local_agent(i)] for i in range(self.n)), np.int64, self.n)
        if not 0 <= a_g < g.num_ag or a_l.min() < 0 or a_l.max() >= g.num_al:
            raise AltmarlError(
                f"actions must lie in Discrete({g.num_ag}) (global) and Discrete({g.num_al})"
            )
        states = self._states
        r_l = g.r_l[states, s_g, a_l]
        reward = float(g.r_g[s_g, a_g] + r_l.mean())
        self._states = categorical(g.P_l[states, s_g, a_l], rng)
        self._s_g = int(categorical(g.P_g[s_g, a_g][None, :], rng)[0])
        self._t += 1
        self._last_action = a_g
        done = self._t >= self.horizon
        agents = self.agents
        obs = self._observations()
        rewards = dict.fromkeys(agents, reward)
        terminated = dict.fromkeys(agents, False)
        truncated = dict.fromkeys(agents, done)
        infos: dict[str, dict[str, Any]] = {
            local_agent(i): {"local_reward": float(r)} for i, r in enumerate(r_l.tolist())
        }
        infos[GLOBAL] = {"counts": np.bincount(states, minlength=g.num_sl)}
        if done:
            self.agents = []
        return obs, rewards, terminated, truncated, infos

    def state(self) -> np.ndarray:
        """``(s_g, counts of the n local agents)``: the exchangeable system's state."""
        assert self._states is not None
        return np.concatenate([[self._s_g], np.bincount(self._states, minlength=self.game.num_sl)])

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._states is None:
            return None
        occ = np.bincount(self._states, minlength=self.game.num_sl) / self.n
        return population_frame(occ, self._s_g + 0.5, global_action=self._last_action)

    def close(self) -> None:
        pass


class PairActors:
    """A policy pair acting in :class:`OnlineExecutionEnv`: ``a_g = pi_g(s_g, c)`` and
    ``a_i ~ pi_l(. | s_i, s_g)`` for every local agent, from the observations alone."""

    def __init__(self, global_policy: GlobalActor, local_policy: LocalPolicy, seed: Seed = 0):
        self.global_policy, self.local_policy = global_policy, local_policy
        self.rng = as_generator(seed)

    @classmethod
    def from_policy_dir(
        cls, path: str | Path, game: TabularGame | None = None, seed: Seed = 0
    ) -> PairActors:
        """The pair of a policy directory (``altmarl train --out DIR`` writes ``DIR/policy``)."""
        pair = load_policy_dir(path, game)
        return cls(pair.global_policy, pair.local_policy, seed)

    def actions(self, observations: dict[str, np.ndarray]) -> dict[str, int]:
        out: dict[str, int] = {}
        if GLOBAL in observations:
            o = observations[GLOBAL]
            a = self.global_policy.act(o[:1], o[None, 1:], self.rng)
            out[GLOBAL] = int(np.asarray(a)[0])
        names = [a for a in observations if a != GLOBAL]
        if names:
            obs = np.stack([observations[a] for a in names])  # [m, 2]: (s_l, s_g)
            acts = categorical(self.local_policy.probs[obs[:, 0], obs[:, 1]], self.rng)
            out.update(zip(names, acts.tolist(), strict=True))
        return out


class Actors(Protocol):
    """Anything that maps a step's observations to every observed agent's action."""

    def actions(self, observations: dict[str, Any]) -> dict[str, int]: ...


def episode_returns(env: Any, actors: Actors, episodes: int, seed: int = 0) -> np.ndarray:
    """Discounted returns ``sum_{t < H} gamma^t r_t`` (``gamma = env.gamma``) of ``episodes``
    episodes of a parallel env whose agents all receive the common reward (the first reset is
    seeded with ``seed``; later resets continue its stream)."""
    gamma = env.gamma
    out = np.zeros(episodes)
    for e in range(episodes):
        obs, _ = env.reset(seed=seed if e == 0 else None)
        discount = 1.0
        while env.agents:
            obs, rewards, *_ = env.step(actors.actions(obs))
            out[e] += discount * rewards[GLOBAL]
            discount *= gamma
    return out
