"""The ``k``-chained MDP (Algorithm 21, SPEC §4a): ``k`` replicas of the local agent moved
one micro step at a time after the global agent's step. Its micro steps, observations and
horizon are described in :mod:`altmarl.llearn.chained`; here they are laid out as arrays
(``_KChainLayout`` numbers the micro states)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from altmarl.counts import TupleSpace
from altmarl.errors import MemoryBudgetError
from altmarl.game import TabularGame
from altmarl.laws import ordered_tuple_prob
from altmarl.llearn.chain_common import (
    BYTES_PER_NNZ,
    ChainedMDP,
    chain_episodic_mdp,
    check_k_T,
    check_policy,
)
from altmarl.memory import check_memory
from altmarl.policies import GlobalPolicy


def k_chain_num_states(num_sl: int, num_sg: int, k: int) -> int:
    """``|S_l|^k |S_g| (1 + k |S_g|)`` micro states of the k-chained MDP."""
    return num_sl**k * num_sg * (1 + k * num_sg)


@dataclass(frozen=True)
class _KChainLayout:
    """Numbering of the k-chained MDP's micro states (Algorithm 21).

    ``X = |S_l|^k`` replica tuples, ``G = |S_g|``. Pointer ``i = 0``: state
    ``x * G + s_g`` (the first ``N0 = X G`` ids); pointer ``i >= 1``: layer ``i - 1`` of
    ``X G G`` states ``(x, s_g, pending)`` after those.
    """

    X: int
    G: int

    @property
    def N0(self) -> int:
        return self.X * self.G

    @property
    def layer(self) -> int:
        return self.X * self.G * self.G

    def ptr(self, x: np.ndarray, g: np.ndarray, pend: np.ndarray, i: int) -> np.ndarray:
        """Id of ``(x, s_g, pending, i)`` for ``i >= 1``; works on int arrays elementwise."""
        return self.N0 + (i - 1) * self.layer + (x * self.G + g) * self.G + pend


def _check_k_chain_size(L: int, G: int, A: int, k: int, budget: int | None) -> int:
    """The k-chained MDP's number of micro states, once it fits the memory budget."""
    n_states = k_chain_num_states(L, G, k)
    nnz = L**k * G * A * G + k * L**k * G * G * A * L
    check_memory(
        nnz * BYTES_PER_NNZ + n_states * A * 8 * 4,
        f"the k-chained MDP (k={k}, {n_states} micro states, {nnz} transitions)",
        budget,
        hint="lower k or use oracle='mean-field'",
    )
    if n_states >= 2**31:
        raise MemoryBudgetError(
            f"the k-chained MDP with k={k} has {n_states} micro states; lower k"
        )
    return n_states


def _k_chain_global_step(
    game: TabularGame, q: np.ndarray, lay: _KChainLayout, A: int
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Micro step ``i = 0`` of Algorithm 21: ``a_g ~ q``, pending ``~ P_g(. | s_g, a_g)``.

    q: [G, X, A_g] law of ``a_g`` given ``(s_g, x)``. Returns COO triplets (rows
    ``state * A + a``) and the reward ``[N0]`` (``E r_g``), the same for every learner
    action since the learner has no effect at this step.
    """
    X, G = lay.X, lay.G
    pend_prob = np.einsum("gxa,gap->gxp", q, game.P_g)  # [G, X, G']
    rg = np.einsum("gxa,ga->gx", q, game.r_g)
    x_, g_, p_ = np.meshgrid(np.arange(X), np.arange(G), np.arange(G), indexing="ij")
    src = x_ * G + g_
    dst = lay.ptr(x_, g_, p_, 1)
    pr = pend_prob[g_, x_, p_]
    rows, cols, vals = [], [], []
    for a in range(A):
        rows.append((src * A + a).ravel())
        cols.append(dst.ravel())
        vals.append(pr.ravel())
    return rows, cols, vals, rg.T.reshape(lay.N0)


def _k_chain_replica_steps(
    game: TabularGame, tuples: np.ndarray, lay: _KChainLayout, k: int
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Micro steps ``i = 1..k`` of Algorithm 21: replica ``i`` alone moves by ``P_l``.

    tuples: [X, k] replica states. Returns COO triplets (after ``i = k`` the pending
    global state is committed, back to pointer 0) and the rewards ``[k X G G, A_l]`` of
    the pointer ``>= 1`` states in id order, ``r_l(s_i, s_g, a) / k``.
    """
    L, A = game.num_sl, game.num_al
    X, G = lay.X, lay.G
    reward = np.zeros((k * lay.layer, A))
    weights = L ** np.arange(k - 1, -1, -1, dtype=np.int64)
    grid = np.meshgrid(np.arange(X), np.arange(G), np.arange(G), indexing="ij")
    x_, g_, p_ = (a.ravel() for a in grid)
    rows, cols, vals = [], [], []
    for i in range(1, k + 1):
        s_i = tuples[x_, i - 1]
        src = lay.ptr(x_, g_, p_, i)
        reward[src - lay.N0] = game.r_l[s_i, g_, :] / k
        for a in range(A):
            for s_new in range(L):
                x_new = x_ + (s_new - s_i) * weights[i - 1]
                dst = lay.ptr(x_new, g_, p_, i + 1) if i < k else x_new * G + p_
                rows.append(src * A + a)
                cols.append(dst)
                vals.append(game.P_l[s_i, g_, a, s_new])
    return rows, cols, vals, reward


def _k_chain_kernel(
    game: TabularGame, q: np.ndarray, tuples: np.ndarray, lay: _KChainLayout, k: int
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Transition matrix ``[n_states * A_l, n_states]`` and reward ``[n_states, A_l]``."""
    A = game.num_al
    n_states = lay.N0 + k * lay.layer
    rows0, cols0, vals0, reward0 = _k_chain_global_step(game, q, lay, A)
    rows1, cols1, vals1, reward1 = _k_chain_replica_steps(game, tuples, lay, k)
    rows_a = np.concatenate(rows0 + rows1)
    cols_a = np.concatenate(cols0 + cols1)
    vals_a = np.concatenate(vals0 + vals1)
    keep = vals_a > 0
    P = sp.csr_matrix((vals_a[keep], (rows_a[keep], cols_a[keep])), shape=(n_states * A, n_states))
    P.sum_duplicates()
    reward = np.zeros((n_states, A))
    reward[: lay.N0] = reward0[:, None]
    reward[lay.N0 :] = reward1
    return P, reward


def _k_chain_observations(tuples: np.ndarray, lay: _KChainLayout, k: int) -> np.ndarray:
    """Observation id ``s_i * G + s_g`` of every micro state, ``-1`` at pointer 0."""
    X, G = lay.X, lay.G
    obs = np.full(lay.N0 + k * lay.layer, -1, dtype=np.int64)
    grid = np.meshgrid(np.arange(X), np.arange(G), np.arange(G), indexing="ij")
    x_, g_, p_ = (a.ravel() for a in grid)
    for i in range(1, k + 1):
        s_i = tuples[x_, i - 1]
        obs[lay.ptr(x_, g_, p_, i)] = s_i * G + g_
    return obs


def _k_chain_decoder(tuples: np.ndarray, lay: _KChainLayout) -> Callable[[int], tuple]:
    """Micro state id -> ``(replicas, s_g, pending or None, i)``."""
    G, N0 = lay.G, lay.N0

    def decode(s: int) -> tuple:
        s = int(s)
        if s < N0:
            x, g = divmod(s, G)
            return (tuple(int(v) for v in tuples[x]), g, None, 0)
        i0, rest = divmod(s - N0, lay.layer)
        xg, pend = divmod(rest, G)
        x, g = divmod(xg, G)
        return (tuple(int(v) for v in tuples[x]), g, pend, i0 + 1)

    return decode


def k_chained_mdp(
    game: TabularGame, pi_g: GlobalPolicy, k: int, T: int, *, budget: int | None = None
) -> ChainedMDP:
    """The ``k``-chained MDP of Algorithm 21 with ``T`` macro steps (``H = T (k + 1)``).

    Refuses with :class:`MemoryBudgetError` (naming ``k`` and the state count) when the
    micro-state space would not fit the memory budget.
    """
    check_k_T(k, T)
    check_policy(game, pi_g, k)
    L, G, A = game.num_sl, game.num_sg, game.num_al
    n_states = _check_k_chain_size(L, G, A, k, budget)
    ts = TupleSpace(k, L)
    lay = _KChainLayout(ts.size, G)
    tuples = ts.all()  # [X, k]
    counts = ts.counts(np.arange(lay.X))  # [X, L]
    q = pi_g.action_law(counts)  # [G, X, Ag]
    P, reward = _k_chain_kernel(game, q, tuples, lay, k)
    obs = _k_chain_observations(tuples, lay, k)
    initial = np.zeros(n_states)
    px = ordered_tuple_prob(game, counts)  # [X]
    initial[: lay.N0] = (px[:, None] * game.rho_g[None, :]).ravel()
    initial /= initial.sum()
    mdp = chain_episodic_mdp(
        game, P, reward, initial, obs, A, L * G, T, k + 1, name=f"k-chain(k={k},T={T})"
    )
    return ChainedMDP(mdp, "k", k, T, k + 1, L, G, _k_chain_decoder(tuples, lay))


def k_chain_state_index(chain: ChainedMDP, replicas, s_g: int, pending: int | None, i: int) -> int:
    """Index of the micro state ``(s_1..s_k, s_g, s_g_pending, i)`` of a k-chained MDP."""
    L, G, k = chain.num_sl, chain.num_sg, chain.k
    x = int(TupleSpace(k, L).index(np.asarray(replicas)))
    if i == 0:
        return x * G + s_g
    assert pending is not None  # pointers i >= 1 hold the pending global state
    return L**k * G + (i - 1) * L**k * G * G + (x * G + s_g) * G + int(pending)
