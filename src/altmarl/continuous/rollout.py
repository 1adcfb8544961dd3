"""Online execution (SPEC §6) of the continuous warehouse, batched over episodes and robots.

Every step of every episode: draw ``Delta_t``, a uniformly random ``k``-subset of the ``n``
robots (without replacement); the dispatcher acts on ``(s_g, histogram of Delta_t)``; every
robot draws ``a_i ~ pi_l(. | s_g, s_i)``; collect ``r = r_g + (1/n) sum_i r_l``; transition.

Common random numbers. The random draws of a step are made in a fixed order and do not
depend on the policies (subsample keys, a dispatcher uniform, one uniform per robot for
its action by inverse CDF, the Gaussian noises), so two pairs simulated from the same seed
see the same randomness; UPDATE's comparisons (``training``) rely on this. In particular two
pairs whose actions agree at every step from the same seed run the same episodes.

The actors evaluate the networks as they were when the actor was made, in the networks'
inference form (:class:`~altmarl.continuous.networks.FoldedMLP`: the same function, about
twice as fast as the training form).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
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
from altmarl.continuous.networks import DispatcherNet, FoldedMLP, LocalPolicyNet
from altmarl.errors import AltmarlError

#: Torch threads of the rollouts run inside :func:`rollout_threads` (``None``: the caller's).
_ROLLOUT_THREADS: ContextVar[int | None] = ContextVar("rollout_threads", default=None)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads (``None``: leave them), then
    restore the caller's."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def rollout_threads(threads: int) -> Iterator[None]:
    """Rollouts (:func:`simulate`, and the G step's commitment rollouts) started in the
    block use ``threads`` torch threads, whatever the threads of the code around them.

    Why this is safe for reproducibility: a rollout's operations are row-wise (matrix
    products over 64 inputs, element-wise maps, reductions per episode), which torch
    splits over rows, so a rollout gives the same bits on any number of threads
    (``tests/continuous/test_rollout.py`` checks 1 against 2). Gradient steps are not like
    that (their sums run over the batch), so a training run keeps those on its own
    ``threads`` and lends the other cores to the rollouts only.
    """
    if int(threads) != threads or threads < 1:
        raise AltmarlError(f"threads_for_rollouts = {threads!r} must be an integer >= 1")
    token = _ROLLOUT_THREADS.set(threads)
    try:
        yield
    finally:
        _ROLLOUT_THREADS.reset(token)


def rollout_thread_count() -> int | None:
    """The torch threads set by the enclosing :func:`rollout_threads` (``None``: none)."""
    return _ROLLOUT_THREADS.get()


def torch_generator(
    seed: int | np.random.SeedSequence, index: int | None = None
) -> torch.Generator:
    """A torch generator seeded from a ``SeedSequence`` (or ``SeedSequence([seed, index])``)."""
    if index is not None:
        assert isinstance(seed, int)
        seq = np.random.SeedSequence([seed, index])
    else:
        seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    state = seq.generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & ((1 << 63) - 1))


class GlobalActor(Protocol):
    """A dispatcher: ``obs [B, 6]``, uniforms ``[B]`` -> global actions ``[B]`` (int64)."""

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor: ...


class LocalActor(Protocol):
    """The shared robot policy: ``obs [B, n, 2]``, uniforms ``[B, n]`` -> actions ``[B, n]``."""

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor: ...


def _snapshot(actor: object, net: DispatcherNet | LocalPolicyNet) -> None:
    # the network as of the actor's creation, in its fast inference form (FoldedMLP)
    object.__setattr__(actor, "_forward", net.inference())


@dataclass(frozen=True)
class GreedyDispatcher:
    """``a_g = argmax`` of the dispatcher network's scores (deterministic, SPEC §2)."""

    net: DispatcherNet
    _forward: Callable[[torch.Tensor], torch.Tensor] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _snapshot(self, self.net)

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.argmax(self._forward(obs), dim=-1)


@dataclass(frozen=True)
class ConstantDispatcher:
    """Always the same target bin, whatever the sample says (a reference dispatcher)."""

    target: int

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.full(obs.shape[:-1], self.target, dtype=torch.long)


@dataclass(frozen=True)
class UniformDispatcher:
    """The uniform-random baseline dispatcher."""

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.clamp((u * NUM_GLOBAL_ACTIONS).long(), max=NUM_GLOBAL_ACTIONS - 1)


@dataclass(frozen=True)
class SampledLocal:
    """``a_i ~ softmax(net(s_g, s_i))`` by inverse CDF on the given uniforms."""

    net: LocalPolicyNet
    _forward: FoldedMLP = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _snapshot(self, self.net)

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        p = torch.softmax(self._forward.transposed(obs), dim=0)  # [A, N]
        # inverse CDF against the first A - 1 bounds (a u above a rounded-down last bound
        # still gets the last action)
        flat = u.reshape(-1)
        action = torch.zeros_like(flat, dtype=torch.long)
        bound = torch.zeros_like(flat)
        for a in range(NUM_LOCAL_ACTIONS - 1):
            bound = bound + p[a]
            action += flat > bound
        return action.reshape(u.shape)


@dataclass(frozen=True)
class GreedyLocal:
    """``a_i = argmax`` of the robot policy (the authors' robots at evaluation)."""

    net: LocalPolicyNet
    _forward: FoldedMLP = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _snapshot(self, self.net)

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.argmax(self._forward.transposed(obs), dim=0).reshape(obs.shape[:-1])


@dataclass(frozen=True)
class UniformLocal:
    """The uniform-random baseline robot policy."""

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.clamp((u * NUM_LOCAL_ACTIONS).long(), max=NUM_LOCAL_ACTIONS - 1)


@dataclass(frozen=True)
class Rollout:
    """A batch of ``B`` episodes of ``H`` steps.

    ``returns [B]`` discounted returns ``sum_t gamma^t r_t``; ``mode_hits [H, B]`` whether
    ``a_g`` equalled the true population mode; ``global_actions``/``modes [H, B]`` and the
    dispatcher's observations ``dispatcher_obs [H, B, 6]``; with ``record=True`` also
    ``s_g [H, B]``, ``s_l [H, B, n]``, ``actions [H, B, n]``, ``local_rewards [H, B, n]``,
    ``stage_rewards [H, B]`` and ``sampled [H, B, k]`` (the indices of the robots the
    dispatcher sampled).
    """

    returns: torch.Tensor
    mode_hits: torch.Tensor
    global_actions: torch.Tensor
    modes: torch.Tensor
    dispatcher_obs: torch.Tensor
    s_g: torch.Tensor | None = None
    s_l: torch.Tensor | None = None
    actions: torch.Tensor | None = None
    local_rewards: torch.Tensor | None = None
    stage_rewards: torch.Tensor | None = None
    sampled: torch.Tensor | None = None

    @property
    def mode_accuracy(self) -> float:
        return float(self.mode_hits.float().mean())


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
    copies: int = 1,
) -> Rollout:
    """Online execution of ``(dispatcher, local)`` for ``episodes`` episodes of ``horizon``
    steps (default ``w.horizon``) on ``w.n`` robots with ``k``-subsampling.

    ``copies > 1`` runs the batch ``copies`` times side by side with the same random draws
    (rows ``c * episodes + e``): the way to compare several dispatchers in one batch
    (:func:`simulate_dispatchers`)."""
    w.check_k(k)
    if episodes < 1:
        raise ValueError(f"episodes = {episodes} must be >= 1")
    H = w.horizon if horizon is None else horizon
    gen = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(seed)
    trace: dict[str, list[torch.Tensor]] = {key: [] for key in _TRACE + (_RECORD if record else ())}
    # inference mode: no autograd bookkeeping; the stacked outputs below are normal tensors
    with torch.inference_mode(), torch_threads(rollout_thread_count()):
        returns = _run(w, dispatcher, local, k, episodes, H, gen, trace, copies)
    out = {key: torch.stack(vals) for key, vals in trace.items()}
    hits = out["global_actions"] == out["modes"]
    return Rollout(returns=returns.clone(), mode_hits=hits, **out)


@dataclass(frozen=True)
class StackedDispatcher:
    """Several dispatchers side by side: rows ``[c * block, (c + 1) * block)`` of a batch are
    acted on by ``actors[c]``."""

    actors: tuple[GlobalActor, ...]
    block: int

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        rows = [slice(i * self.block, (i + 1) * self.block) for i in range(len(self.actors))]
        return torch.cat([a.act(obs[r], u[r]) for a, r in zip(self.actors, rows, strict=True)])


def simulate_dispatchers(
    w: ContinuousWarehouse,
    dispatchers: Sequence[GlobalActor],
    local: LocalActor,
    k: int,
    episodes: int,
    seed: int | torch.Generator,
) -> list[Rollout]:
    """Each dispatcher with the same robots on the same ``episodes`` episodes (the same
    random draws: common random numbers), simulated as one batch; one :class:`Rollout` per
    dispatcher. The robots act through one network call per step for all of them."""
    roll = simulate(
        w, StackedDispatcher(tuple(dispatchers), episodes), local, k, episodes, seed,
        copies=len(dispatchers),
    )  # fmt: skip
    out = []
    for i in range(len(dispatchers)):
        part = slice(i * episodes, (i + 1) * episodes)
        out.append(
            Rollout(
                returns=roll.returns[part],
                mode_hits=roll.mode_hits[:, part],
                global_actions=roll.global_actions[:, part],
                modes=roll.modes[:, part],
                dispatcher_obs=roll.dispatcher_obs[:, part],
            )
        )
    return out


_TRACE = ("global_actions", "modes", "dispatcher_obs")
_RECORD = ("s_g", "s_l", "actions", "local_rewards", "stage_rewards", "sampled")


def _run(
    w: ContinuousWarehouse,
    dispatcher: GlobalActor,
    local: LocalActor,
    k: int,
    episodes: int,
    H: int,
    gen: torch.Generator,
    trace: dict[str, list[torch.Tensor]],
    copies: int = 1,
) -> torch.Tensor:
    """The time loop of :func:`simulate`; appends each step's tensors to ``trace``."""
    E, n = episodes, w.n

    def draw(sample: torch.Tensor) -> torch.Tensor:
        return sample if copies == 1 else sample.repeat(copies, *([1] * (sample.dim() - 1)))

    s_g, s_l = (draw(x) for x in initial_states(w, E, gen))
    returns = torch.zeros(E * copies)
    discount = 1.0
    # same[c, e]: copy c + 1 of episode e is still in copy 0's state (robots need no step)
    same = torch.ones(copies - 1, E, dtype=torch.bool)
    for _ in range(H):
        # Fixed draw order per step (common random numbers across pairs).
        u_sub = draw(torch.rand(E, n, generator=gen))
        u_g = draw(torch.rand(E, generator=gen))
        u_l = draw(torch.rand(E, n, generator=gen))
        z_g = draw(torch.randn(E, generator=gen))
        z_l = draw(torch.randn(E, n, generator=gen))
        bins = bin_index(s_l)
        obs_g = dispatcher_observation(s_g, subsample_histogram(bins, k, u_sub))
        a_g = dispatcher.act(obs_g, u_g)
        a_l = _robot_actions(local, s_g, s_l, u_l, same)
        same &= (a_g[E:] == a_g[:E].repeat(copies - 1)).reshape(copies - 1, E)
        r_l = local_reward(w, s_l, s_g, a_l)
        r = global_reward(w, s_g, a_g) + r_l.mean(dim=1)
        returns += discount * r
        discount *= w.gamma
        step = {
            "global_actions": a_g,
            "modes": mode_bin(bins),
            "dispatcher_obs": obs_g,
            "s_g": s_g,
            "s_l": s_l,
            "actions": a_l,
            "local_rewards": r_l,
            "stage_rewards": r,
        }
        if "sampled" in trace:
            # the same keys subsample_histogram ranked: the robots a_g was chosen from
            step["sampled"] = subsample_indices(k, u_sub)
        for key, vals in trace.items():
            vals.append(step[key])
        s_g, s_l = global_step(w, s_g, a_g, z_g), local_step(w, s_l, a_l, z_l)
    return returns


def _robot_actions(
    local: LocalActor,
    s_g: torch.Tensor,
    s_l: torch.Tensor,
    u_l: torch.Tensor,
    same: torch.Tensor,
) -> torch.Tensor:
    """The robots' actions ``[C E, n]`` of a batch of ``C`` copies of ``E`` episodes (rows
    ``c E + e``), the network run only on copy 0 and on the rows whose state has left copy
    0's (``same [C - 1, E]`` False).

    Why this is exact: the copies draw the same uniforms, so a row still in copy 0's state
    acts as copy 0's row, robot for robot. Dispatchers compared with common random numbers
    agree on much of each episode (a proposal that differs from its incumbent on some
    observations: 60% of the steps before the first different bin, measured over a k = 10
    run's comparisons); the robot network, which costs most of a rollout, runs on the rest.
    """
    E = same.shape[1]
    if same.numel() == 0 or not bool(same.any()):
        return local.act(robot_observation(s_g, s_l), u_l)
    rows = torch.cat([torch.arange(E), E + torch.nonzero(~same.reshape(-1)).reshape(-1)])
    acted = local.act(robot_observation(s_g[rows], s_l[rows]), u_l[rows])
    a_l = acted[:E].repeat(same.shape[0] + 1, 1)
    a_l[rows[E:]] = acted[E:]
    return a_l
