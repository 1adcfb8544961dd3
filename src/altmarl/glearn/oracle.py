"""G-LEARN (SPEC §3): the global agent's best response to a fixed shared local policy.

:func:`glearn` composes the operator (:mod:`~altmarl.glearn.operator`), value iteration
and eq. 20's greedy policy (:mod:`~altmarl.glearn.value_iteration`) and returns a
:class:`~altmarl.oracles.GLearnResult`. :class:`GLearnOracle` is G-LEARN behind the
:class:`~altmarl.oracles.GlobalOracle` interface that ALTERNATING-MARL calls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from altmarl.counts import check_k
from altmarl.game import TabularGame
from altmarl.glearn.operator import (
    DEFAULT_M,
    LARGE_TABLE_BYTES,
    check_m,
    empirical_adapted_bellman,
    exact_adapted_bellman,
    operator_bytes,
    operator_space,
)
from altmarl.glearn.sampling import Sampling
from altmarl.glearn.value_iteration import (
    Stopping,
    greedy_policy,
    iteration_bytes,
    max_over_actions,
    value_iteration,
)
from altmarl.memory import check_memory
from altmarl.oracles import GLearnResult, OracleInfo, PreviousAnswer
from altmarl.policies import GlobalPolicy, LocalPolicy, Parameterization
from altmarl.rewards import RewardSampler
from altmarl.seeding import Seed, as_generator


@dataclass(frozen=True, kw_only=True)
class GLearnInfo(OracleInfo):
    """Diagnostics of one G-LEARN call (an :class:`~altmarl.oracles.OracleInfo`).

    value : mean over ``s_g`` and ``x`` of ``max_a Qhat`` (the oracle's one-number summary).
    iterations : Bellman sweeps performed (or Q-learning updates, off-policy).
    residual : Bellman residual of the last sweep: ``||Q_{t+1} - Q_t||_inf`` for plain
        value iteration, ``||G(V') - V'||_inf`` of the returned solution for the span rule.
    error_bound : certified bound on ``||q - Qhat||_inf``, ``Qhat`` the operator's fixed
        point (from the stopping rule; see :func:`value_iteration`).
    samples : generative-model draws of the next local part (one draw = the next states
        of all ``k`` agents), ``|S_g| |X| m``; 0 for the exact operator.
    seconds : wall time of the whole call (sampling + iteration).
    table_size : ``Z = |S_g| |X| |A_g|`` Q-entries.
    """

    residual: float
    error_bound: float
    table_size: int
    k: int
    m: int | None
    parameterization: str
    stopping: str
    converged: bool
    extra: dict[str, Any] = field(default_factory=dict)


def glearn(
    game: TabularGame,
    local_policy: LocalPolicy,
    k: int,
    *,
    m: int | None = DEFAULT_M,
    parameterization: Parameterization = "mean-field",
    tol: float = 1e-6,
    q0: np.ndarray | None = None,
    seed: Seed = 0,
    max_iterations: int = 100_000,
    stopping: Stopping = "span",
    anderson: int = 5,
    sampling: Sampling = "common",
    reward_sampler: RewardSampler | None = None,
) -> GLearnResult[GlobalPolicy]:
    """G-LEARN (SPEC §3): the global best response to ``local_policy`` seeing ``k`` agents.

    Builds ``That_{k,m}`` (or ``T_k`` when ``m is None``), runs :func:`value_iteration`
    from ``q0`` (default 0) to ``tol`` and returns the greedy policy (eq. 20).
    ``seed`` feeds two independent streams: the operator's samples and the tie-breaking.
    See :func:`value_iteration` for ``stopping`` and ``anderson``,
    :func:`empirical_adapted_bellman` for ``sampling`` and ``reward_sampler`` (stochastic
    rewards, Appendix F; ignored by the exact operator, whose reward is the mean).
    """
    t0 = time.perf_counter()
    k = check_k(k)
    m = check_m(m)
    _check_glearn_memory(game, k, m, parameterization, anderson)
    rng = as_generator(seed)
    rng_op, rng_tie = rng.spawn(2)
    if m is None:
        op = exact_adapted_bellman(game, local_policy, k, parameterization=parameterization)
    else:
        op = empirical_adapted_bellman(
            game,
            local_policy,
            k,
            m,
            parameterization=parameterization,
            seed=rng_op,
            sampling=sampling,
            reward_sampler=reward_sampler,
        )
    q, vi = value_iteration(
        op,
        tol=tol,
        q0=q0,
        max_iterations=max_iterations,
        stopping=stopping,
        anderson=anderson,
    )
    table = greedy_policy(q, rng_tie)
    policy = GlobalPolicy(table, k, game.num_sl, game.num_ag, parameterization)
    info = GLearnInfo(
        value=float(max_over_actions(q).mean()),
        iterations=vi["iterations"],
        residual=vi["residual"],
        error_bound=vi["error_bound"],
        samples=op.samples,
        seconds=time.perf_counter() - t0,
        table_size=int(q.size),
        k=k,
        m=m,
        parameterization=parameterization,
        stopping=stopping,
        converged=vi["converged"],
        extra={"float32_sweeps": vi["float32_sweeps"]},
    )
    return GLearnResult(q=q, policy=policy, info=info)


def glearn_bytes(
    size: int,
    num_global_states: int,
    num_global_actions: int,
    num_local_states: int,
    m: int,
    anderson: int = 5,
) -> int:
    """Bytes :func:`glearn` needs on ``|X| = size`` inputs with ``m`` samples: the sampled
    operator, value iteration's buffers and the greedy policy, counted as if all were
    alive at once (an upper bound of the peak; Python and the libraries come on top)."""
    S, A = num_global_states, num_global_actions
    mixed = size * S * 8 > LARGE_TABLE_BYTES
    return (
        operator_bytes(size, S, m, num_local_states)
        + iteration_bytes((S, size, A), anderson, mixed)
        + size * S * 17  # greedy_policy: max_a Q, the first maximiser, the tie flags
    )


def _check_glearn_memory(
    game: TabularGame, k: int, m: int | None, parameterization: str, anderson: int
) -> None:
    """Refuse, before anything is allocated, a G-LEARN call over the memory budget."""
    if m is None:
        return  # exact_adapted_bellman checks its dense tables itself
    space = operator_space(k, game.num_sl, parameterization)
    need = glearn_bytes(space.size, game.num_sg, game.num_ag, game.num_sl, m, anderson)
    check_memory(
        need,
        f"G-LEARN (k={k}, |X|={space.size}, m={m})",
        hint="lower k or m, or use the mean-field parameterization",
    )


@dataclass(frozen=True)
class GLearnOracle:
    """G-LEARN as a :class:`~altmarl.oracles.GlobalOracle` (configuration only).

    Value iteration starts from the run's previous ``Qhat`` when there is one (a warm start:
    only the starting point changes, not the fixed point or its certificate);
    :class:`~altmarl.alternating.global_steps.ColdStart` withholds it.
    """

    m: int | None = DEFAULT_M
    parameterization: Parameterization = "mean-field"
    tol: float = 1e-6
    max_iterations: int = 100_000
    stopping: Stopping = "span"
    anderson: int = 5
    sampling: Sampling = "common"
    reward_sampler: RewardSampler | None = None

    def best_response(
        self,
        game: TabularGame,
        local_policy: LocalPolicy,
        k: int,
        *,
        global_policy: GlobalPolicy | None = None,
        seed: Seed = 0,
        previous: PreviousAnswer | None = None,
    ) -> GLearnResult[GlobalPolicy]:
        q0 = previous.q if previous is not None else None
        return glearn(
            game,
            local_policy,
            k,
            m=self.m,
            parameterization=self.parameterization,
            tol=self.tol,
            q0=q0,
            seed=seed,
            max_iterations=self.max_iterations,
            stopping=self.stopping,
            anderson=self.anderson,
            sampling=self.sampling,
            reward_sampler=self.reward_sampler,
        )
