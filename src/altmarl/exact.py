"""Exact evaluation of online execution on the count chain (tiny ``n``).

Because agents are exchangeable, online execution (SPEC §6) of ``(pi_g, pi_l)`` is a
Markov chain on ``(s_g, N)`` with ``N in C_n`` the counts of all ``n`` agents:

* ``a_g ~ sum_c Hyp(c | N, k) pi_g(a | s_g, c)`` (multivariate hypergeometric subsample);
* the expected stage reward is ``sum_a P(a) r_g(s_g, a) + (1/n) sum_j N_j rbar_l(j, s_g)``;
* ``s_g' ~ P_g(.|s_g, a_g)`` and, independently, ``N' = sum_j Multinomial(N_j, Pbar_l(.|j, s_g))``
  (local moves use the current ``s_g`` and do not depend on ``a_g``).

Everything here is enumerated exactly; sizes grow like ``|S_g| binom(n + L - 1, L - 1)``,
so this module is for tests and certificates on tiny systems.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from altmarl.counts import CountSpace
from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.laws import (
    convolve_counts,
    hypergeometric_matrix,
    initial_count_distribution,
    multinomial_pmf,
)
from altmarl.policies import GlobalActor, LocalPolicy

#: Largest number of chain states (``|S_g| |C_n|``) enumerated by default.
MAX_CHAIN_STATES = 200_000


def chain_size(game: TabularGame, n: int) -> int:
    """``|S_g| |C_n|``: the number of states of the count chain of ``n`` agents (any ``n``)."""
    L = game.num_sl
    return game.num_sg * math.comb(int(n) + L - 1, L - 1)


def global_action_table(
    global_policy: GlobalActor, num_global_states: int, k: int, num_states: int
) -> np.ndarray:
    """``pi_g(a | s_g, c)`` as ``[S_g, |C_k|, A_g]``: the policy's action law over every
    count vector of ``C_k`` in rank order (:meth:`~altmarl.policies.GlobalPolicy.action_law`)."""
    if not hasattr(global_policy, "action_law"):
        raise AltmarlError(
            "exact evaluation needs a global policy with an action law (GlobalPolicy or "
            f"UniformGlobalPolicy), got {type(global_policy).__name__}"
        )
    return global_policy.action_law(CountSpace(k, num_states).all(), num_global_states)


def local_count_kernel(P_bar: np.ndarray, n: int) -> sp.csr_matrix:
    """``Q[N, N'] = P(N' | N)`` with ``N' = sum_j Multinomial(N_j, P_bar[j])``.

    P_bar: ``[L, L]`` averaged local kernel at one ``s_g``. Returns ``[|C_n|, |C_n|]`` CSR.
    """
    L = P_bar.shape[0]
    space = CountSpace(n, L)
    counts = space.all()
    # pmf of the destinations of m agents leaving bin j, for every m <= n
    pmfs = [[multinomial_pmf(CountSpace(m, L), P_bar[j]) for m in range(n + 1)] for j in range(L)]
    rows, cols, vals = [], [], []
    for r, N in enumerate(counts):
        dist = convolve_counts([(int(N[j]), pmfs[j][int(N[j])]) for j in range(L)], L)
        nz = np.nonzero(dist)[0]
        rows.append(np.full(nz.size, r))
        cols.append(nz)
        vals.append(dist[nz])
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(space.size, space.size),
    )


@dataclass(frozen=True)
class PopulationModel:
    """The count process of ``n`` agents under a shared local policy (independent of ``pi_g``).

    local_kernels : per ``s_g`` the CSR matrix ``P(N' | N, s_g)``, ``[|C_n|, |C_n|]``.
    local_reward : ``[S_g, |C_n|]`` ``(1/n) sum_j N_j rbar_l(j, s_g)``.
    initial : ``[S_g, |C_n|]`` law of ``(s_g(0), N(0))``.
    """

    n: int
    space: CountSpace
    local_kernels: tuple[sp.csr_matrix, ...]
    local_reward: np.ndarray
    initial: np.ndarray


def check_chain_size(game: TabularGame, n: int) -> None:
    """Refuse, before anything is built, an ``n`` whose count chain has more than
    :data:`MAX_CHAIN_STATES` states (``|S_g| |C_n|``)."""
    if n < 1:
        raise AltmarlError(f"n = {n} must be >= 1")
    L = game.num_sl
    # log-size first: the exact binomial of a huge n is slow and pointless
    log_size = math.lgamma(n + L) - math.lgamma(n + 1) - math.lgamma(L)
    size = math.comb(n + L - 1, L - 1) if log_size < math.log(MAX_CHAIN_STATES) + 1 else None
    if size is None or size * game.num_sg > MAX_CHAIN_STATES:
        states = f"{size}" if size is not None else f"about 10^{log_size / math.log(10):.0f}"
        raise AltmarlError(
            f"--n {n}: the exact count chain has |S_g| x |C_n| = {game.num_sg} x {states} "
            f"states, over the limit of {MAX_CHAIN_STATES}; use a smaller n or Monte Carlo"
        )


def population_model(game: TabularGame, local_policy: LocalPolicy, n: int) -> PopulationModel:
    """Build the exact count process of ``n`` agents under ``pi_l`` (tiny ``n``)."""
    check_chain_size(game, n)
    space = CountSpace(n, game.num_sl)
    P_bar, r_bar = game.averaged_local(local_policy.probs)
    counts = space.all().astype(np.float64)
    kernels = tuple(local_count_kernel(P_bar[:, g, :], n) for g in range(game.num_sg))
    local_reward = (counts @ r_bar).T / n  # [S_g, C]
    initial = game.rho_g[:, None] * initial_count_distribution(game, n)[None, :]
    return PopulationModel(n, space, kernels, local_reward, initial)


def _expect_next(model: PopulationModel, V: np.ndarray) -> np.ndarray:
    """``EV[g, N, g'] = sum_N' P(N'|N, g) V[g', N']`` for ``V [S_g, C]``."""
    return np.stack([Q @ V.T for Q in model.local_kernels])


def chain_matrix(model: PopulationModel, global_next: np.ndarray) -> sp.csr_matrix:
    """Transition matrix on ``(s_g, N)`` flattened as ``s_g * |C_n| + rank(N)``.

    global_next: ``[S_g, C, S_g]`` law of ``s_g'`` given ``(s_g, N)``.
    """
    S = global_next.shape[0]
    blocks = [
        [sp.diags(global_next[g, :, h]) @ model.local_kernels[g] for h in range(S)]
        for g in range(S)
    ]
    return sp.bmat(blocks, format="csr")


@dataclass(frozen=True)
class ExactEvaluation:
    """Exact value of online execution: ``V[s_g, rank(N)]`` and its initial average."""

    value: float
    values: np.ndarray
    action_probs: np.ndarray  # [S_g, C_n, A_g]


def evaluate_exact(
    game: TabularGame,
    global_policy: GlobalActor,
    local_policy: LocalPolicy,
    n: int,
    k: int,
    horizon: int | None = None,
    model: PopulationModel | None = None,
) -> ExactEvaluation:
    """Exact ``V(pi_g, pi_l)`` of online execution with ``n`` agents and subsample ``k``.

    ``horizon=None`` is the infinite discounted sum (sparse linear solve); an integer
    ``H`` is ``E[sum_{t<H} gamma^t r_t]`` (what a horizon-``H`` rollout estimates).
    """
    if not 0 <= k <= n:
        raise AltmarlError(f"k = {k} must satisfy 0 <= k <= n = {n}")
    model = model or population_model(game, local_policy, n)
    act = global_action_table(global_policy, game.num_sg, k, game.num_sl)
    probs = np.einsum("Nc,gca->gNa", hypergeometric_matrix(n, k, game.num_sl), act)
    reward = np.einsum("gNa,ga->gN", probs, game.r_g) + model.local_reward
    global_next = np.einsum("gNa,gah->gNh", probs, game.P_g)
    gamma = game.gamma
    if horizon is None:
        P = chain_matrix(model, global_next)
        A = sp.identity(P.shape[0], format="csc") - gamma * P.tocsc()
        V = spla.spsolve(A, reward.ravel()).reshape(reward.shape)
    else:
        V = np.zeros_like(reward)
        for _ in range(int(horizon)):
            EV = _expect_next(model, V)  # [g, N, g']
            V = reward + gamma * np.einsum("gNh,gNh->gN", global_next, EV)
    return ExactEvaluation(float((model.initial * V).sum()), V, probs)


def exact_value(
    game: TabularGame,
    global_policy: GlobalActor,
    local_policy: LocalPolicy,
    n: int,
    k: int,
    horizon: int | None = None,
) -> float:
    """Exact value of online execution from the initial distribution (:func:`evaluate_exact`)."""
    return evaluate_exact(game, global_policy, local_policy, n, k, horizon).value


@dataclass(frozen=True)
class OptimalControl:
    """Optimal full-information global control against a fixed ``pi_l``.

    value : from the initial distribution; values: ``[S_g, |C_n|]``;
    policy : ``[S_g, |C_n|]`` optimal ``a_g`` given ``s_g`` and the counts of ALL ``n`` agents.
    """

    value: float
    values: np.ndarray
    policy: np.ndarray


def optimal_global_control(
    game: TabularGame,
    local_policy: LocalPolicy,
    n: int,
    horizon: int | None = None,
    model: PopulationModel | None = None,
    tol: float = 1e-12,
) -> OptimalControl:
    """The global agent's best response with full information (an upper bound on any
    feasible, subsampled global deviation), by policy iteration (``horizon=None``) or
    backward induction over ``horizon`` steps."""
    model = model or population_model(game, local_policy, n)
    gamma = game.gamma
    reward = game.r_g[:, None, :] + model.local_reward[:, :, None]  # [g, N, a]

    def q_of(V: np.ndarray) -> np.ndarray:
        EV = _expect_next(model, V)  # [g, N, h]
        return reward + gamma * np.einsum("gah,gNh->gNa", game.P_g, EV)

    if horizon is not None:
        V = np.zeros(reward.shape[:2])
        pol = np.zeros(reward.shape[:2], dtype=np.int64)
        for _ in range(int(horizon)):
            Q = q_of(V)
            pol, V = Q.argmax(axis=2), Q.max(axis=2)
        return OptimalControl(float((model.initial * V).sum()), V, pol)
    S, C = reward.shape[:2]
    pol = reward.argmax(axis=2)
    g_idx, n_idx = np.indices((S, C))
    for _ in range(1000):
        global_next = game.P_g[g_idx, pol]  # [g, N, h]
        P = chain_matrix(model, global_next)
        A = sp.identity(P.shape[0], format="csc") - gamma * P.tocsc()
        V = spla.spsolve(A, reward[g_idx, n_idx, pol].ravel()).reshape(S, C)
        Q = q_of(V)
        best = Q.max(axis=2)
        improve = best > Q[g_idx, n_idx, pol] + tol * max(1.0, np.abs(best).max())
        if not improve.any():
            break
        pol = np.where(improve, Q.argmax(axis=2), pol)
    return OptimalControl(float((model.initial * V).sum()), V, pol)


def optimal_global_value(
    game: TabularGame, local_policy: LocalPolicy, n: int, horizon: int | None = None
) -> float:
    """Value of :func:`optimal_global_control` from the initial distribution."""
    return optimal_global_control(game, local_policy, n, horizon).value
