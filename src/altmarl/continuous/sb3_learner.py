"""The L step of the continuous extension by sb3-contrib's TRPO (``--local-algo sb3-trpo``).

The same oracle as :func:`altmarl.continuous.local_learn.local_best_response` (SPEC §4, §7
G.2: a representative-robot best response against the fixed dispatcher, every robot of a
batch of episodes being a sample of the representative robot), with the policy update done
by a well-kept implementation of TRPO (Schulman et al. 2015) instead of
:mod:`altmarl.continuous.trpo`, so the two can be compared side by side
(``docs/continuous.md``).

* :class:`RobotVecEnv` presents the ``n`` robots of ``B`` episodes as ONE Stable-Baselines3
  ``VecEnv`` of ``n * B`` environments (index ``b * n + i``: robot ``i`` of episode ``b``),
  stepped together by the batched kernels of :mod:`altmarl.continuous.env` (no robot is
  stepped on its own). Every robot is controlled by the policy being trained (the
  population shares it); the dispatcher acts greedily on a fresh ``k``-subsample each step
  (online execution, SPEC §6). A robot's reward is its own ``r_l(s_i, s_g, a_i)``; episodes
  end after ``horizon`` steps and are treated as terminal (the objective is the truncated
  discounted return the study evaluates; no bootstrap past the horizon).
* :class:`RobotActorCritic` is SB3's actor-critic with the library's two networks inside:
  the actor is :class:`~altmarl.continuous.networks.LocalPolicyNet` on ``(s_g, s_i)`` and the
  critic :class:`~altmarl.continuous.networks.CriticNet` on ``(s_g, s_i, t / H)`` (the
  observation carries ``t / H`` for the critic only), so weights and the critic's Adam
  state move in and out exactly.
* :func:`sb3_local_best_response` has the contract of ``local_best_response``.

Settings map one to one where SB3 has them: KL radius -> ``target_kl`` (SB3 accepts a step
only with ``KL < target_kl``, not ``<= 1.5 x`` radius), CG iterations, damping, backtracking
ratio and trials, critic learning rate and minibatch; ``gae_lambda = 1`` makes SB3's
advantages the Monte-Carlo returns minus the critic, as in ``local_learn``. SB3 fits the critic
by epochs over the batch: ``round(critic_steps / minibatches per epoch)`` epochs (at least one)
with the largest minibatch ``<= critic_batch`` that divides the batch. SB3's sub-sampling
(``sub_sampling_factor = batch // fvp_samples``) applies to the whole policy step (gradient,
Fisher-vector products and line search), where ``trpo`` subsamples only the Fisher-vector
products; without it one SB3 step costs about ten times as much.

Randomness: SB3 samples actions from torch's global generator and shuffles minibatches with
numpy's; both are seeded from the caller's generator inside a scope that restores their
previous states, so a seed fixes the step and nothing global changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib import TRPO
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

from altmarl.continuous.env import (
    NUM_LOCAL_ACTIONS,
    ContinuousWarehouse,
    bin_index,
    dispatcher_observation,
    global_reward,
    global_step,
    initial_states,
    local_reward,
    local_step,
    subsample_histogram,
)
from altmarl.continuous.local_learn import LocalLearnConfig
from altmarl.continuous.networks import HIDDEN, CriticNet, LocalPolicyNet
from altmarl.continuous.rollout import GlobalActor


class RobotVecEnv(VecEnv):
    """``n * B`` robots of ``B`` episodes as one ``VecEnv``, stepped together.

    Observation of env ``b * n + i``: ``(s_g[b], s_i[b], t / H)`` (float32); action: robot
    ``i``'s local action in ``{0, 1, 2}``; reward: its ``r_l``. After ``H`` steps every env
    is done and a new batch of episodes starts (SB3's auto-reset convention). The last batch's
    states ``s_g [H, B]``, ``s_l [H, B, n]`` and its episodes' discounted team returns
    (``r_g + mean r_l``) are kept for the G step and the report.
    """

    def __init__(
        self,
        w: ContinuousWarehouse,
        dispatcher: GlobalActor,
        k: int,
        episodes: int,
        generator: torch.Generator,
    ) -> None:
        w.check_k(k)
        self.w, self.dispatcher, self.k, self.episodes = w, dispatcher, k, episodes
        self.generator = generator
        self.render_mode = None
        high = np.array([w.high, w.high, 1.0], dtype=np.float32)
        low = np.array([w.low, w.low, 0.0], dtype=np.float32)
        obs_space = spaces.Box(low, high, dtype=np.float32)
        super().__init__(w.n * episodes, obs_space, spaces.Discrete(NUM_LOCAL_ACTIONS))
        self._actions: torch.Tensor | None = None
        self.last_s_g: torch.Tensor | None = None
        self.last_s_l: torch.Tensor | None = None
        self.last_returns: torch.Tensor | None = None

    # ------------------------------------------------------------------ batch state
    def _start_batch(self) -> None:
        self.s_g, self.s_l = initial_states(self.w, self.episodes, self.generator)
        self.t = 0
        self._trace_g: list[torch.Tensor] = []
        self._trace_l: list[torch.Tensor] = []
        self._returns = torch.zeros(self.episodes)
        self._discount = 1.0

    def _obs(self) -> np.ndarray:
        B, n = self.s_l.shape
        obs = torch.empty(B, n, 3)
        obs[..., 0] = self.s_g[:, None]
        obs[..., 1] = self.s_l
        obs[..., 2] = self.t / self.w.horizon
        return obs.reshape(B * n, 3).numpy()

    # ------------------------------------------------------------------ VecEnv API
    def reset(self) -> np.ndarray:
        self._start_batch()
        return self._obs()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = torch.as_tensor(np.asarray(actions), dtype=torch.long)

    @torch.no_grad()
    def step_wait(self):
        assert self._actions is not None, "step_async must come first"
        w, gen = self.w, self.generator
        B, n = self.s_l.shape
        a_l = self._actions.reshape(B, n)
        # The draw order of rollout.simulate (the robots' action uniforms are unused: SB3
        # samples the actions), so a batch sees the randomness simulate would.
        u_sub = torch.rand(B, n, generator=gen)
        u_g = torch.rand(B, generator=gen)
        torch.rand(B, n, generator=gen)
        z_g = torch.randn(B, generator=gen)
        z_l = torch.randn(B, n, generator=gen)
        hist = subsample_histogram(bin_index(self.s_l), self.k, u_sub)
        a_g = self.dispatcher.act(dispatcher_observation(self.s_g, hist), u_g)
        r_l = local_reward(w, self.s_l, self.s_g, a_l)
        self._returns += self._discount * (global_reward(w, self.s_g, a_g) + r_l.mean(dim=1))
        self._discount *= w.gamma
        self._trace_g.append(self.s_g)
        self._trace_l.append(self.s_l)
        self.s_g, self.s_l = global_step(w, self.s_g, a_g, z_g), local_step(w, self.s_l, a_l, z_l)
        self.t += 1
        rewards = r_l.reshape(-1).numpy().astype(np.float32)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if self.t < w.horizon:
            return self._obs(), rewards, np.zeros(self.num_envs, dtype=bool), infos
        final = self._obs()
        for i, info in enumerate(infos):
            info["terminal_observation"] = final[i]
        self.last_s_g = torch.stack(self._trace_g)
        self.last_s_l = torch.stack(self._trace_l)
        self.last_returns = self._returns
        self._start_batch()
        return self._obs(), rewards, np.ones(self.num_envs, dtype=bool), infos

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list[Any]:
        raise NotImplementedError("RobotVecEnv has no per-environment methods")

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)


class _RobotExtractor(nn.Module):
    """SB3's ``mlp_extractor``: the actor's body reads ``(s_g, s_i)``, the critic's body
    ``(s_g, s_i, t / H)``. Named ``policy_net``/``value_net`` as SB3's own (its TRPO tells
    actor from critic parameters by the word ``value`` in their names)."""

    def __init__(self, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.latent_dim_pi = self.latent_dim_vf = hidden
        self.policy_net = nn.Sequential(
            nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()
        )
        self.value_net = nn.Sequential(
            nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()
        )

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        return self.policy_net(features[..., :2])

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        return self.value_net(features)


class _TRPO(TRPO):
    """sb3-contrib's TRPO, keeping each update's logged statistics (SB3's logger keeps only
    the last ones)."""

    def train(self) -> None:
        super().train()
        self.update_stats: list[dict[str, float]] = [
            *getattr(self, "update_stats", []),
            dict(self.logger.name_to_value),
        ]


class RobotActorCritic(ActorCriticPolicy):
    """SB3's actor-critic whose actor is ``LocalPolicyNet`` and critic ``CriticNet``."""

    def _build_mlp_extractor(self) -> None:
        # SB3 types the attribute as its MlpExtractor; ours has the same interface
        self.mlp_extractor = _RobotExtractor()  # type: ignore[assignment]

    def actor_layers(self) -> list[nn.Linear]:
        """The actor's three linear layers, in ``LocalPolicyNet.body`` order."""
        net = self.mlp_extractor.policy_net
        return [net[0], net[2], self.action_net]  # type: ignore[list-item]

    def critic_layers(self) -> list[nn.Linear]:
        """The critic's three linear layers, in ``CriticNet.body`` order."""
        net = self.mlp_extractor.value_net
        return [net[0], net[2], self.value_net]  # type: ignore[list-item]


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


@torch.no_grad()
def _copy_layers(src: list[nn.Linear], dst: list[nn.Linear]) -> None:
    for a, b in zip(src, dst, strict=True):
        b.weight.copy_(a.weight)
        b.bias.copy_(a.bias)


def _params(layers: list[nn.Linear]) -> list[torch.Tensor]:
    return [p for layer in layers for p in (layer.weight, layer.bias)]


@contextlib.contextmanager
def _seeded_global_rngs(generator: torch.Generator) -> Iterator[None]:
    """Seed torch's and numpy's global generators from ``generator``; restore them after."""
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    np_state = np.random.get_state()  # noqa: NPY002 (SB3 shuffles with the global stream)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            np.random.seed(seed)  # noqa: NPY002
            yield
    finally:
        np.random.set_state(np_state)  # noqa: NPY002


def sb3_local_best_response(
    w: ContinuousWarehouse,
    dispatcher: GlobalActor,
    policy: LocalPolicyNet,
    critic: CriticNet,
    critic_optimiser: torch.optim.Optimizer,
    k: int,
    generator: torch.Generator,
    config: LocalLearnConfig,
) -> tuple[LocalPolicyNet, dict[str, Any]]:
    """Propose ``pi_l'`` by ``config.updates`` sb3-contrib TRPO updates of a COPY of
    ``policy``, each on a fresh batch of ``config.episodes`` episodes (all ``n`` robots
    following the policy being trained) against the fixed ``dispatcher``.

    The contract of :func:`~altmarl.continuous.local_learn.local_best_response`: the critic
    (and its optimiser's state) is trained in place; info holds the last batch's population
    states ``s_g [H, B]``, ``s_l [H, B, n]`` for the G step, ``batch_return``, ``kl``,
    ``accepted_steps``, ``step_fraction`` (1 or 0: SB3 does not report the backtracking
    fraction) and ``critic_loss``.
    """
    env = RobotVecEnv(w, dispatcher, k, config.episodes, generator)
    buffer = env.num_envs * w.horizon
    # the largest minibatch <= critic_batch dividing the batch (SB3 warns otherwise)
    batch = next(b for b in range(min(config.critic_batch, buffer), 0, -1) if buffer % b == 0)
    epochs = max(1, round(config.critic_steps / (buffer // batch)))
    t = config.trpo
    with _seeded_global_rngs(generator):
        model = _TRPO(
            RobotActorCritic,
            env,
            learning_rate=config.critic_lr,
            n_steps=w.horizon,
            batch_size=batch,
            gamma=w.gamma,
            cg_max_steps=t.cg_iters,
            cg_damping=t.damping,
            line_search_shrinking_factor=t.backtrack_ratio,
            line_search_max_iter=t.backtrack_iters,
            n_critic_updates=epochs,
            gae_lambda=1.0,
            normalize_advantage=True,
            target_kl=t.max_kl,
            sub_sampling_factor=max(1, buffer // t.fvp_samples),
            device="cpu",
        )
        sb3 = model.policy
        assert isinstance(sb3, RobotActorCritic)
        _copy_layers(_linears(policy.body), sb3.actor_layers())
        _copy_layers(_linears(critic.body), sb3.critic_layers())
        # The critic's Adam moments travel with it: same parameter order as CriticNet's.
        sb3.optimizer = torch.optim.Adam(_params(sb3.critic_layers()), lr=config.critic_lr)
        sb3.optimizer.load_state_dict(critic_optimiser.state_dict())
        model.learn(total_timesteps=config.updates * buffer)
        proposal = LocalPolicyNet()  # initialised from the seeded stream, then overwritten
    _copy_layers(sb3.actor_layers(), _linears(proposal.body))
    _copy_layers(sb3.critic_layers(), _linears(critic.body))
    critic_optimiser.load_state_dict(sb3.optimizer.state_dict())
    stats = model.update_stats
    last = stats[-1]
    accepted = [s["train/is_line_search_success"] > 0.5 for s in stats]
    assert env.last_s_g is not None and env.last_s_l is not None
    assert env.last_returns is not None
    info: dict[str, Any] = {
        "kl": float(last["train/kl_divergence_loss"]),
        "accepted_steps": sum(accepted),
        "step_fraction": float(accepted[-1]),
        # SB3 fits the critic by MSE; the history reports 0.5 * MSE as local_learn does.
        "critic_loss": 0.5 * float(last["train/value_loss"]),
        "batch_return": float(env.last_returns.mean()),
        "s_g": env.last_s_g,
        "s_l": env.last_s_l,
    }
    return proposal, info
