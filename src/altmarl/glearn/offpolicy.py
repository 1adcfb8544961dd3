"""Off-policy G-LEARN (SPEC §3, Appendix E): the same Q table from ONE logged trajectory.

No generative model: a behaviour policy ``b(a_g | s_g, c)`` runs the ``n``-agent system
once (:func:`log_trajectory`), and Q-learning (eq. 38) reads the log
(:func:`offpolicy_q_learning`):

    Q(z_t, a_t) <- Q(z_t, a_t) + alpha_t (r_t + gamma max_a' Q(z'_t, a') - Q(z_t, a_t)),

with ``z_t = (s_g(t), c_t)``, ``c_t`` the counts of a uniformly random ``k``-subsample
``Delta_t`` (drawn without replacement, as in online execution). So that the stochastic
approximation targets the fixed point ``Q_k`` of the adapted Bellman operator ``T_k``,
each logged transition follows the SAME subsample one step: ``z'_t = (s_g(t+1),
counts of Delta_t at t+1)`` and ``r_t = r_g(s_g, a_g) + (1/k) sum_{i in Delta_t}
r_l(s_i, s_g, a_i)`` with the agents' sampled actions; given ``z_t`` and ``a_t`` these
have exactly the law of ``T_k`` (every agent moves by ``Pbar_l``), while ``z_{t+1}`` is
a fresh subsample of the evolving population.

Step sizes: ``alpha = 1 / (1 + visits(z, a))^omega`` per entry (``omega in (1/2, 1]``),
the classic polynomial schedule. Assumption E.1 needs ``b(a|z) > 0`` for every entry;
:func:`log_trajectory` refuses a behaviour policy without full support.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numba
import numpy as np

from altmarl.counts import CountSpace
from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.glearn.offpolicy_log import (
    LoggedTrajectory,
    epsilon_greedy_behaviour,
    log_trajectory,
    uniform_behaviour,
)
from altmarl.glearn.oracle import GLearnInfo
from altmarl.glearn.value_iteration import greedy_policy
from altmarl.oracles import GLearnResult
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.rewards import RewardSampler

__all__ = [
    "LoggedTrajectory",
    "epsilon_greedy_behaviour",
    "glearn_offpolicy",
    "log_trajectory",
    "offpolicy_q_learning",
    "uniform_behaviour",
]


@numba.njit(cache=True)
def _q_learning(
    q: np.ndarray,
    visits: np.ndarray,
    s: np.ndarray,
    c: np.ndarray,
    a: np.ndarray,
    r: np.ndarray,
    s2: np.ndarray,
    c2: np.ndarray,
    gamma: float,
    omega: float,
    passes: int,
) -> float:  # pragma: no cover
    """Eq. 38 over the log; returns the largest |update| of the last pass's final 1%."""
    T = s.shape[0]
    A = q.shape[2]
    tail = max(1, T // 100)
    last = 0.0
    for p in range(passes):
        for t in range(T):
            best = q[s2[t], c2[t], 0]
            for b in range(1, A):
                best = max(best, q[s2[t], c2[t], b])
            v = visits[s[t], c[t], a[t]]
            alpha = 1.0 / (1.0 + v) ** omega
            visits[s[t], c[t], a[t]] = v + 1
            delta = alpha * (r[t] + gamma * best - q[s[t], c[t], a[t]])
            q[s[t], c[t], a[t]] += delta
            if p == passes - 1 and t >= T - tail:
                last = max(last, abs(delta))
    return last


def offpolicy_q_learning(
    game: TabularGame,
    trajectory: LoggedTrajectory,
    *,
    omega: float = 0.8,
    passes: int = 1,
    q0: np.ndarray | None = None,
    seed: int | np.random.Generator = 0,
) -> GLearnResult[GlobalPolicy]:
    """Off-policy Q-learning (eq. 38) on a logged trajectory; the greedy policy (eq. 20).

    ``alpha = 1/(1 + visits)^omega`` per entry. ``passes > 1`` replays the log (then the
    limit is the fixed point of the log's empirical operator). ``info.extra`` records
    ``unvisited`` (entries never updated; they keep ``q0``) and ``omega``;
    ``info.residual`` is the largest update in the final 1% of the last pass.
    """
    t0 = time.perf_counter()
    if not 0.5 < omega <= 1.0:
        raise AltmarlError(f"omega = {omega} must lie in (0.5, 1] for convergence")
    if int(passes) != passes or passes < 1:
        raise AltmarlError(f"passes = {passes} must be an integer >= 1")
    k = trajectory.k
    space = CountSpace(k, game.num_sl)
    shape = (game.num_sg, space.size, game.num_ag)
    q = np.zeros(shape) if q0 is None else np.array(q0, dtype=np.float64)
    if q.shape != shape:
        raise AltmarlError(f"q0 must have shape {shape}, got {q.shape}")
    visits = np.zeros(shape, dtype=np.int64)
    last = _q_learning(
        q,
        visits,
        trajectory.s_g,
        trajectory.c,
        trajectory.a_g,
        trajectory.reward,
        trajectory.next_s_g,
        trajectory.next_c,
        game.gamma,
        float(omega),
        int(passes),
    )
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    policy = GlobalPolicy(greedy_policy(q, rng), k, game.num_sl, game.num_ag, "mean-field")
    info = GLearnInfo(
        value=float(q.max(axis=-1).mean()),
        iterations=len(trajectory) * int(passes),
        residual=float(last),
        error_bound=float("nan"),
        samples=len(trajectory),
        seconds=time.perf_counter() - t0,
        table_size=int(q.size),
        k=k,
        m=None,
        parameterization="mean-field",
        stopping="trajectory",
        converged=bool((visits > 0).all()),
        extra={
            "unvisited": int((visits == 0).sum()),
            "omega": float(omega),
            "passes": int(passes),
            "n": trajectory.n,
            "min_visits": int(visits.min()),
        },
    )
    return GLearnResult(q=q, policy=policy, info=info)


def glearn_offpolicy(
    game: TabularGame,
    local_policy: LocalPolicy,
    k: int,
    *,
    n: int,
    steps: int,
    behaviour: np.ndarray | None = None,
    omega: float = 0.8,
    passes: int = 1,
    reset_every: int | None = None,
    q0: np.ndarray | None = None,
    seed: int | np.random.Generator = 0,
    reward_sampler: RewardSampler | None = None,
) -> GLearnResult[GlobalPolicy]:
    """Off-policy G-LEARN (Appendix E): :func:`log_trajectory` then
    :func:`offpolicy_q_learning`; ``seed`` feeds independent streams for both."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    rng_log, rng_tie = rng.spawn(2)
    traj = log_trajectory(
        game,
        local_policy,
        k,
        n,
        steps=steps,
        behaviour=behaviour,
        seed=rng_log,
        reset_every=reset_every,
        reward_sampler=reward_sampler,
    )
    res = offpolicy_q_learning(game, traj, omega=omega, passes=passes, q0=q0, seed=rng_tie)
    info = replace(res.info, seconds=time.perf_counter() - t0)
    return GLearnResult(q=res.q, policy=res.policy, info=info)
