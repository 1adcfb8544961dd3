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

from altmarl.continuous import step_kernels
from altmarl.continuous.env import (
    NUM_BINS,
    NUM_GLOBAL_ACTIONS,
    NUM_LOCAL_ACTIONS,
    ContinuousWarehouse,
    bin_index,
    delta,
    initial_states,
    subsample_histogram,
    subsample_indices,
    tau,
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
    """The shared robot policy: ``obs [B, n, 2]``, uniforms ``[B, n]`` -> actions ``[B, n]``.

    ``obs`` and ``u`` are valid during the call only (:func:`simulate` refills their buffers
    at the next step): an actor that keeps them must copy them."""

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
        action = np.empty(u.numel(), dtype=np.int64)
        step_kernels.inverse_cdf(p.numpy(), u.reshape(-1).numpy(), action)
        return torch.from_numpy(action).reshape(u.shape)


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
    """The time loop of :func:`simulate`; appends each step's tensors to ``trace``.

    A step keeps in torch the random draws, the agents' networks, ``exp`` and the mean over
    robots, and does the rest in two jitted passes (:mod:`~altmarl.continuous.step_kernels`,
    the same bits as :mod:`~altmarl.continuous.env`'s kernels). The robot network runs on
    copy 0 and on the rows whose state has left copy 0's: the copies draw the same uniforms,
    so a row still in copy 0's state acts as copy 0's row, robot for robot (exact);
    dispatchers compared with common random numbers agree on much of each episode (60% of
    the steps before the first different bin, measured over a k = 10 run's comparisons).
    """
    E, n = episodes, w.n
    batch = _Copies(w, E, copies, *initial_states(w, E, gen))
    discount = 1.0
    record = "s_l" in trace
    for _ in range(H):
        # Fixed draw order per step (common random numbers across pairs).
        u_sub = torch.rand(E, n, generator=gen)
        u_g = batch.draw(torch.rand(E, generator=gen))
        u_l = torch.rand(E, n, generator=gen)
        z_g = torch.randn(E, generator=gen)
        z_l = torch.randn(E, n, generator=gen)
        obs_g, modes, robot_obs, robot_u = batch.observe(u_sub, u_l, k)
        a_g = dispatcher.act(obs_g, u_g)
        s_g, s_l = batch.state()
        a_l, r_l, r = batch.finish(a_g, local.act(robot_obs, robot_u), z_g, z_l, discount)
        discount *= w.gamma
        trace["global_actions"].append(a_g)
        trace["modes"].append(modes)
        trace["dispatcher_obs"].append(obs_g)
        if record:
            trace["s_g"].append(s_g)
            trace["s_l"].append(s_l)
            trace["actions"].append(a_l)
            trace["local_rewards"].append(r_l)
            trace["stage_rewards"].append(r)
            # the same keys the histogram ranked: the robots a_g was chosen from
            trace["sampled"].append(subsample_indices(k, batch.draw(u_sub)))
    return batch.returns


class _Copies:
    """``C`` copies of ``E`` episodes stepped together (copy ``c`` of episode ``e`` in row
    ``c E + e``; the random draws are per episode, shared by its copies), through the jitted
    passes of :mod:`~altmarl.continuous.step_kernels` (their constants and buffers here)."""

    def __init__(
        self, w: ContinuousWarehouse, E: int, copies: int, s_g: torch.Tensor, s_l: torch.Tensor
    ) -> None:
        f32 = np.float32
        self.copies, R, n = copies, E * copies, w.n
        self.s_g, self.s_l = self.draw(s_g).numpy(), self.draw(s_l).numpy()
        self.returns = torch.zeros(R)
        self.params = np.array(
            [
                w.rl_scale, w.move_cost, w.steer, w.global_noise, w.local_noise, w.low, w.high,
                2.0 * w.rg_width**2,
            ],
            f32,
        )  # fmt: skip
        self.tau, self.offsets = tau().numpy(), delta().numpy()
        self.reward_width, self.rg_scale = f32(2.0 * w.rl_width**2), f32(w.rg_scale)
        # same[r]: row r >= E is still in its copy-0 row's state (the robots need no step)
        self.same = np.ones(R, dtype=np.bool_)
        self.rows = np.empty(R, dtype=np.int64)
        self.m = 0
        self.robot_obs = np.empty((R, n, 2), dtype=f32)
        self.robot_u = np.empty((R, n), dtype=f32)
        self.arg_l, self.arg_g = np.empty((R, n), dtype=f32), np.empty(R, dtype=f32)

    def draw(self, sample: torch.Tensor) -> torch.Tensor:
        """An episode's draw for each of its copies."""
        if self.copies == 1:
            return sample
        return sample.repeat(self.copies, *([1] * (sample.dim() - 1)))

    def state(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(self.s_g), torch.from_numpy(self.s_l)

    def observe(
        self, u_sub: torch.Tensor, u_l: torch.Tensor, k: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The dispatcher's observations ``[R, 6]`` and the modes ``[R]``; the robot
        network's inputs ``[M, n, 2]`` and uniforms ``[M, n]`` (copy 0 and the rows that left
        it: a row still in copy 0's state acts as copy 0's row, robot for robot)."""
        R = self.s_g.shape[0]
        obs_g = np.empty((R, NUM_BINS + 1), dtype=np.float32)
        modes = np.empty(R, dtype=np.int64)
        self.m, tie = step_kernels.observe(
            self.s_g, self.s_l, u_sub.numpy(), u_l.numpy(), k, self.same, self.reward_width,
            obs_g, modes, self.arg_l, self.robot_obs, self.robot_u, self.rows,
        )  # fmt: skip
        obs = torch.from_numpy(obs_g)
        if tie:  # the k smallest keys are not determined by value: ask torch.topk
            bins = bin_index(torch.from_numpy(self.s_l))
            obs[:, 1:] = subsample_histogram(bins, k, self.draw(u_sub))
        robots = (
            torch.from_numpy(self.robot_obs[: self.m]),
            torch.from_numpy(self.robot_u[: self.m]),
        )
        return obs, torch.from_numpy(modes), *robots

    def finish(
        self,
        a_g: torch.Tensor,
        acted: torch.Tensor,
        z_g: torch.Tensor,
        z_l: torch.Tensor,
        discount: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rewards and transition once the agents have acted (``acted``: the robots of the
        rows :meth:`observe` returned); adds ``discount * r`` to the returns. Returns the
        robots' actions ``[R, n]``, local rewards ``[R, n]`` and stage rewards ``[R]``."""
        f32 = np.float32
        R, n = self.s_l.shape
        bonus = torch.exp(torch.from_numpy(self.arg_l))
        a_l, r_l = np.empty((R, n), dtype=np.int64), np.empty((R, n), dtype=f32)
        s_g, s_l = np.empty(R, dtype=f32), np.empty((R, n), dtype=f32)
        step_kernels.finish(
            self.s_g, self.s_l, a_g.numpy(), acted.numpy(), self.rows[: self.m], bonus.numpy(),
            z_g.numpy(), z_l.numpy(), self.tau, self.offsets, self.params, self.same, a_l, r_l,
            self.arg_g, s_g, s_l,
        )  # fmt: skip
        self.s_g, self.s_l = s_g, s_l
        r_l_t = torch.from_numpy(r_l)
        r = np.empty(R, dtype=f32)
        step_kernels.stage_rewards(
            torch.exp(torch.from_numpy(self.arg_g)).numpy(), r_l_t.mean(dim=1).numpy(),
            self.rg_scale, f32(discount), r, self.returns.numpy(),
        )  # fmt: skip
        return torch.from_numpy(a_l), r_l_t, torch.from_numpy(r)
