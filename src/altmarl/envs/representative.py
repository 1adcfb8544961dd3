"""The representative local agent's problem as a Gymnasium environment (SPEC §4).

``gymnasium.make("altmarl/RepresentativeAgent-v0", game=..., global_policy=..., n=..., k=...)``
(after ``import altmarl.envs``). The learner controls ONE local agent of the ``n``-agent
system under online execution (SPEC §6, Algorithm 5): each step a fresh uniformly random
``k``-subset of the ``n`` agents is drawn WITHOUT replacement (the controlled agent is in it
with probability ``k / n``), the global agent acts on ``(s_g, counts of the subsample)`` by the
fixed ``global_policy``, the other ``n - 1`` agents follow the fixed shared ``local_policy``,
and every local kernel uses the CURRENT ``s_g``. This is the object L-LEARN best-responds to:
a best response of the representative agent to a fixed ``pi_g`` with the population playing
``pi_l`` (as ``n`` grows, the mean-field best response of SPEC §4, "a representative-agent best
response against the mean field").

* Observation ``(s_l, s_g)``, ``MultiDiscrete([|S_l|, |S_g|])`` (the shared policy's input,
  ``pi_l(a | s_l, s_g)``); action ``a_l`` in ``Discrete(|A_l|)``.
* Reward: the agent's own ``r_l(s_l, s_g, a_l)``, its share of the cooperative stage reward
  (SPEC eq. 1); ``info["stage_reward"]`` is the whole ``r(s, a) = r_g + (1/n) sum_i r_l``.
* Episodes start from the game's initial laws and are truncated after ``horizon`` steps.

The other agents are kept as counts (as the exact count simulator does): their actions and
moves are multinomial draws per local state, so a step costs the same for any ``n``. All
randomness comes from ``self.np_random`` (seeded by ``reset(seed=...)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from altmarl.envs.rendering import population_frame
from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.policies import GlobalActor, GlobalPolicy, LocalPolicy, UniformGlobalPolicy
from altmarl.policy_dir import load_policy_dir
from altmarl.scenarios import get_scenario
from altmarl.simulate.subsample import categorical, subsample_indices


def resolve_game(game: TabularGame | str | Path) -> TabularGame:
    """A game, a built-in scenario's name, or the path of a game ``.npz``."""
    if isinstance(game, TabularGame):
        return game
    if isinstance(game, Path) or str(game).endswith(".npz"):
        return TabularGame.from_npz(game)
    if isinstance(game, str):
        return get_scenario(game)
    raise AltmarlError(f"game must be a TabularGame, a scenario name or an .npz path, not {game!r}")


def resolve_pair(
    game: TabularGame,
    global_policy: GlobalActor | str | Path | None,
    local_policy: LocalPolicy | None,
    k: int | None,
) -> tuple[GlobalActor, LocalPolicy, int]:
    """The fixed pair and ``k``: ``global_policy`` may be a policy directory (then its local
    policy is the population's unless ``local_policy`` is given) or ``None`` (the uniformly
    random dispatcher); ``local_policy=None`` is the uniform shared policy."""
    if isinstance(global_policy, str | Path):
        pair = load_policy_dir(global_policy, game)
        global_policy = pair.global_policy
        local_policy = pair.local_policy if local_policy is None else local_policy
    if global_policy is None:
        global_policy = UniformGlobalPolicy(game.num_ag)
    if local_policy is None:
        local_policy = LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
    local_policy.check_game(game.num_sl, game.num_sg, game.num_al)
    if isinstance(global_policy, GlobalPolicy):
        if k is None:
            k = global_policy.k
        if k != global_policy.k:
            raise AltmarlError(f"k = {k} differs from the global policy's k = {global_policy.k}")
    elif not isinstance(global_policy, GlobalActor):
        raise AltmarlError(
            f"global_policy must be a GlobalPolicy, a policy directory or None, "
            f"not {type(global_policy).__name__}"
        )
    if k is None:
        raise AltmarlError("k is required unless the global policy fixes it")
    return global_policy, local_policy, int(k)


def check_sizes(n: int, k: int, horizon: int) -> None:
    if not isinstance(n, int | np.integer) or n < 1:
        raise AltmarlError(f"n = {n!r} must be an integer >= 1")
    if not 0 <= k <= n:
        raise AltmarlError(f"k = {k} must satisfy 0 <= k <= n = {n}")
    if not isinstance(horizon, int | np.integer) or horizon < 1:
        raise AltmarlError(f"horizon = {horizon!r} must be an integer >= 1")


class RepresentativeAgentEnv(gym.Env):
    """One local agent of the ``n``-agent system against a fixed ``(pi_g, pi_l)`` (SPEC §4)."""

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        game: TabularGame | str | Path,
        n: int,
        k: int | None = None,
        global_policy: GlobalActor | str | Path | None = None,
        local_policy: LocalPolicy | None = None,
        horizon: int = 100,
        render_mode: str | None = None,
    ) -> None:
        self.game = resolve_game(game)
        self.global_policy, self.local_policy, self.k = resolve_pair(
            self.game, global_policy, local_policy, k
        )
        check_sizes(n, self.k, horizon)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise AltmarlError(f"render_mode {render_mode!r} must be None or 'rgb_array'")
        self.n, self.horizon, self.render_mode = int(n), int(horizon), render_mode
        g = self.game
        self.observation_space = spaces.MultiDiscrete([g.num_sl, g.num_sg])
        self.action_space = spaces.Discrete(g.num_al)
        self._others: np.ndarray | None = None  # [S_l] counts of the other n - 1 agents
        self._last_action: int | None = None

    def _obs(self) -> np.ndarray:
        return np.array([self._me, self._s_g], dtype=np.int64)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        rng, g = self.np_random, self.game
        rho = g.sample_local_distributions(rng, 1)
        self._me = int(categorical(rho, rng)[0])
        self._others = rng.multinomial(self.n - 1, rho[0])
        self._s_g = int(g.sample_global_states(rng, 1)[0])
        self._t = 0
        self._last_action = None
        return self._obs(), {}

    def _subsample_counts(self, rng: np.random.Generator) -> np.ndarray:
        """Counts ``[S_l]`` of a uniform ``k``-subset of the ``n`` agents; agent index 0 is
        the controlled agent, indices ``1..n-1`` the others in state order."""
        assert self._others is not None
        idx = subsample_indices(self.n, self.k, 1, rng)[0]
        cum = np.cumsum(self._others)
        states = (idx[:, None] - 1 >= cum[None, :]).sum(axis=1)
        states[idx == 0] = self._me
        return np.bincount(states, minlength=self.game.num_sl)

    def step(self, action):
        if self._others is None:
            raise AltmarlError("call reset() before step()")
        if not self.action_space.contains(action):
            raise AltmarlError(f"action {action!r} is not in {self.action_space}")
        rng, g, s_g, a = self.np_random, self.game, self._s_g, int(action)
        sub = self._subsample_counts(rng)
        a_g = int(self.global_policy.act(np.array([s_g]), sub[None, :], rng)[0])
        # the others: actions per local state, then moves per (state, action) group
        acts = rng.multinomial(self._others, self.local_policy.probs[:, s_g, :])  # [S_l, A_l]
        own = float(g.r_l[self._me, s_g, a])
        others = float((acts * g.r_l[:, s_g, :]).sum())
        stage = float(g.r_g[s_g, a_g]) + (own + others) / self.n
        moves = rng.multinomial(acts, g.P_l[:, s_g, :, :])  # [S_l, A_l, S_l]
        self._others = moves.sum(axis=(0, 1))
        self._me = int(categorical(g.P_l[self._me, s_g, a][None, :], rng)[0])
        self._s_g = int(categorical(g.P_g[s_g, a_g][None, :], rng)[0])
        self._t += 1
        self._last_action = a_g
        info = {"stage_reward": stage, "global_action": a_g, "subsample_counts": sub}
        return self._obs(), own, False, self._t >= self.horizon, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._others is None:
            return None
        occ = self._others.astype(float)
        occ[self._me] += 1.0
        return population_frame(
            occ / self.n,
            self._s_g + 0.5,
            global_action=self._last_action,
            agent_position=self._me + 0.5,
        )
