"""The chained MDPs that turn L-LEARN into single-agent RL (SPEC §4a, §4b).

* :func:`k_chained_mdp` — the ``k``-chained MDP (Algorithm 21). Micro state
  ``(s_1..s_k, s_g, s_g_pending, i)``; micro step ``i = 0`` is the global agent's
  (``a_g = pi_g(s_g, counts(s_1..s_k))``, ``s_g_pending ~ P_g``, reward ``r_g``; the
  learner's action has no effect there); micro step ``i = 1..k`` moves replica ``i`` only,
  ``s_i' ~ P_l(. | s_i, s_g, a_i)``, reward ``r_l(s_i, s_g, a_i) / k``; after ``i = k`` the
  pending global state is committed. The learner sees ``(s_i, s_g)`` in the deployable
  class: observation id ``s_i * S_g + s_g`` (``-1`` at ``i = 0``).
* :func:`mean_field_chained_mdp` — the mean-field chained MDP (Algorithm 28): a tagged
  agent plus the count vector of the other ``k - 1`` sampled agents. Micro step 0
  evaluates ``pi_g`` on all ``k`` counts, caches ``s_g_pending`` and moves the tagged agent
  (observation ``(s_tag, s_g)``); micro steps ``1..|S_l|`` sweep the bins ``j``: the
  learner's action for bin ``j`` moves the whole mass ``c_j`` by
  ``Multinomial(c_j, P_l(. | j, s_g, a))`` (observation ``(j, s_g)``, ``-1`` for an empty
  bin); then ``c'`` and ``s_g_pending`` are committed.

Both fold the discount into a finite horizon (SPEC §4c): ``T`` macro steps, reward of
micro step ``t`` weighted by ``gamma^(t // steps_per_macro)``, so a chain's value is the
``T``-step discounted value of the ``k``-agent system (within ``gamma^T r_max / (1-gamma)``
of the infinite-horizon one, Lemma C.1).

Initial micro state: ``s_g ~ rho_g`` and the ``k`` replicas exchangeable with the game's
local initializer (i.i.d. ``rho_l``, or one ``Dirichlet(alpha)`` draw shared by all).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.special import gammaln

from altmarl.counts import CountSpace, TupleSpace
from altmarl.errors import AltmarlError, MemoryBudgetError
from altmarl.game import TabularGame
from altmarl.laws import ordered_tuple_prob
from altmarl.llearn.mdp import EpisodicMDP
from altmarl.memory import check_memory
from altmarl.policies import GlobalPolicy, LocalPolicy

#: Largest number of micro states the Python enumeration of Algorithm 28 will visit.
MAX_MEAN_FIELD_CHAIN_STATES = 2_000_000
#: Bytes per stored transition (COO triplets while building, then CSR), for the budget.
_BYTES_PER_NNZ = 48


@dataclass(frozen=True, eq=False)
class ChainedMDP:
    """A chained MDP and how its micro states map back to the game (SPEC §4a/§4b).

    mdp : the :class:`EpisodicMDP` (observation id ``s_l * S_g + s_g``).
    kind : ``"k"`` (Algorithm 21) or ``"mean-field"`` (Algorithm 28).
    steps_per_macro : micro steps per macro step (``k + 1`` or ``|S_l| + 1``).
    decode : micro state index -> a readable tuple describing it.
    """

    mdp: EpisodicMDP
    kind: str
    k: int
    T: int
    steps_per_macro: int
    num_sl: int
    num_sg: int
    decode: Callable[[int], tuple]

    def shared_table(self, local_policy: LocalPolicy | np.ndarray) -> np.ndarray:
        """The shared local policy as the restricted table ``[O, A]`` of this chain."""
        p = (
            local_policy.probs
            if isinstance(local_policy, LocalPolicy)
            else np.asarray(local_policy)
        )
        return p.reshape(self.num_sl * self.num_sg, -1)

    def to_local_policy(self, table: np.ndarray) -> LocalPolicy:
        """A restricted table ``[O, A]`` as the shared :class:`LocalPolicy` ``[S_l, S_g, A_l]``."""
        t = np.asarray(table, dtype=np.float64)
        t = t / t.sum(axis=1, keepdims=True)
        return LocalPolicy(t.reshape(self.num_sl, self.num_sg, -1))


def _check_k_T(k: int, T: int) -> None:
    if int(k) != k or k < 1:
        raise AltmarlError(f"k = {k} must be an integer >= 1")
    if int(T) != T or T < 1:
        raise AltmarlError(f"T = {T} (macro steps) must be an integer >= 1")


def _check_policy(game: TabularGame, pi_g: GlobalPolicy, k: int) -> None:
    if pi_g.k != k:
        raise AltmarlError(f"global policy is for k = {pi_g.k}, not k = {k}")
    if (pi_g.num_global_states, pi_g.num_actions, pi_g.num_local_states) != (
        game.num_sg,
        game.num_ag,
        game.num_sl,
    ):
        raise AltmarlError("global policy does not fit the game's |S_g|, |A_g|, |S_l|")


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
        nnz * _BYTES_PER_NNZ + n_states * A * 8 * 4,
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
    _check_k_T(k, T)
    _check_policy(game, pi_g, k)
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
    H = T * (k + 1)
    tw = game.gamma ** (np.arange(H) // (k + 1))
    mdp = EpisodicMDP(
        P=P,
        reward=reward,
        horizon=H,
        initial=initial,
        num_actions=A,
        time_weight=tw,
        observation=obs,
        num_observations=L * G,
        name=f"k-chain(k={k},T={T})",
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


def mean_field_chain_state_bound(num_sl: int, num_sg: int, k: int) -> int:
    """An upper bound on the reachable micro states of Algorithm 28's chain."""
    L, G = num_sl, num_sg
    phase0 = L * math.comb(k - 1 + L - 1, L - 1) * G
    sweep = sum(L * G * G * math.comb(k - 1 + (2 * L - j) - 1, (2 * L - j) - 1) for j in range(L))
    return phase0 + sweep


def _check_mean_field_size(
    L: int, G: int, A: int, k: int, budget: int | None, max_states: int
) -> None:
    """Refuse a mean-field chain whose state bound exceeds ``max_states`` or the budget."""
    bound = mean_field_chain_state_bound(L, G, k)
    if bound > max_states:
        raise MemoryBudgetError(
            f"the mean-field chained MDP (k={k}) may have up to {bound} micro states, over "
            f"the limit of {max_states}; lower k or use oracle='mean-field'"
        )
    check_memory(
        bound * A * L * _BYTES_PER_NNZ,
        f"the mean-field chained MDP (k={k}, <= {bound} states)",
        budget,
    )


@dataclass(eq=False)
class _MeanFieldEnumeration:
    """Algorithm 28's micro states in order of discovery, and the transitions found so far.

    A key is ``("0", s_tag, others, s_g)`` at micro step 0 or ``("b", j, s_tag, s_g,
    pending, old, new)`` while sweeping bin ``j`` (``old``/``new``: counts of the other
    ``k - 1`` agents before/after the move). ``rows, cols, vals``: COO triplets with row
    ``state * A_l + a``; ``rew``: ``(state, a, reward)``; ``obs_of``: state -> observation.
    """

    keys: list[tuple] = field(default_factory=list)
    index: dict[tuple, int] = field(default_factory=dict)
    rows: list[int] = field(default_factory=list)
    cols: list[int] = field(default_factory=list)
    vals: list[float] = field(default_factory=list)
    rew: list[tuple[int, int, float]] = field(default_factory=list)
    obs_of: dict[int, int] = field(default_factory=dict)

    def sid(self, key: tuple) -> int:
        """The id of ``key``, registering it (next id) the first time it is reached."""
        j = self.index.get(key)
        if j is None:
            j = self.index[key] = len(self.keys)
            self.keys.append(key)
        return j

    def add(self, row: int, col: int, val: float) -> None:
        self.rows.append(row)
        self.cols.append(col)
        self.vals.append(val)


def _multinomial_outcomes(c: int, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The possible outcomes ``[M, S_l]`` of ``Multinomial(c, p)`` and their probabilities ``[M]``.

    Outcomes that put mass on a zero-probability state are dropped rather than kept
    with probability 0, so the chain never reaches them.
    """
    moves = CountSpace(c, p.shape[0]).all()
    with np.errstate(divide="ignore"):
        logp = (
            gammaln(c + 1)
            - gammaln(moves + 1).sum(1)
            + np.where(moves > 0, moves * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(1)
        )
    ok = ~((moves > 0) & (p[None, :] == 0)).any(1)
    return moves[ok], np.exp(logp[ok])


def _mean_field_initial_states(
    game: TabularGame, k: int, chain: _MeanFieldEnumeration
) -> dict[int, float]:
    """Register the initial micro states ``("0", s_tag, others, s_g)``; returns their masses.

    The ``k`` agents are exchangeable with the game's local initializer and ``s_g ~ rho_g``.
    """
    L, G = game.num_sl, game.num_sg
    eye = np.eye(L, dtype=np.int64)
    init: dict[int, float] = {}
    others_all = CountSpace(k - 1, L).all()
    for s_tag in range(L):
        full = others_all + eye[s_tag]
        # one ordering with the tag in front; (k-1)!/prod(c!) orderings of the others
        log_mult = gammaln(k) - gammaln(others_all + 1).sum(1)
        p_tuple = ordered_tuple_prob(game, full) * np.exp(log_mult)
        for row, pr in zip(others_all, p_tuple, strict=True):
            if pr <= 0:
                continue
            for g in range(G):
                if game.rho_g[g] > 0:
                    s = chain.sid(("0", s_tag, tuple(int(v) for v in row), g))
                    init[s] = init.get(s, 0.0) + pr * game.rho_g[g]
    return init


def _tag_step(
    game: TabularGame,
    k: int,
    action_law: Callable[[np.ndarray], np.ndarray],
    chain: _MeanFieldEnumeration,
    s: int,
    key: tuple,
) -> None:
    """Transitions of micro state ``s`` at step 0: ``a_g ~ pi_g`` on all ``k`` counts, the
    pending ``s_g' ~ P_g``, and the tagged agent's move; then the sweep starts at bin 0.

    action_law: counts ``[S_l]`` -> law of ``a_g`` ``[S_g, A_g]``.
    """
    L, G, A = game.num_sl, game.num_sg, game.num_al
    _, s_tag, others, g = key
    full = np.asarray(others) + np.eye(L, dtype=np.int64)[s_tag]
    qa = action_law(full)[g]
    pend = qa @ game.P_g[g]  # [G']
    rg = float(qa @ game.r_g[g])
    chain.obs_of[s] = s_tag * G + g
    for a in range(A):
        chain.rew.append((s, a, rg + game.r_l[s_tag, g, a] / k))
        for s_new in range(L):
            p_move = game.P_l[s_tag, g, a, s_new]
            if p_move == 0:
                continue
            for gp in range(G):
                if pend[gp] == 0:
                    continue
                nxt = chain.sid(("b", 0, s_new, g, gp, others, (0,) * L))
                chain.add(s * A + a, nxt, p_move * pend[gp])


def _bin_step(
    game: TabularGame,
    k: int,
    outcomes: Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray]],
    chain: _MeanFieldEnumeration,
    s: int,
    key: tuple,
) -> None:
    """Transitions of micro state ``s`` sweeping bin ``j``: the learner's action moves the
    bin's whole mass ``c_j`` by ``Multinomial(c_j, P_l(. | j, s_g, a))``; after the last bin
    the new counts and the pending ``s_g`` are committed.

    outcomes: ``(c, j, s_g, a)`` -> :func:`_multinomial_outcomes` of ``P_l[j, s_g, a]``.
    """
    L, G, A = game.num_sl, game.num_sg, game.num_al
    _, j, s_tag, g, gp, old, new = key
    c = old[j]
    chain.obs_of[s] = j * G + g if c > 0 else -1
    for a in range(A):
        chain.rew.append((s, a, c * game.r_l[j, g, a] / k))
        moves, probs = outcomes(c, j, g, a)
        for mv, pr in zip(moves, probs, strict=True):
            new2 = tuple(int(v) for v in np.asarray(new) + mv)
            if j + 1 < L:
                nxt = chain.sid(("b", j + 1, s_tag, g, gp, old, new2))
            else:
                nxt = chain.sid(("0", s_tag, new2, gp))
            chain.add(s * A + a, nxt, pr)


def _enumerate_mean_field_chain(
    game: TabularGame, pi_g: GlobalPolicy, k: int, max_states: int
) -> tuple[_MeanFieldEnumeration, dict[int, float]]:
    """Every micro state reachable from the initial distribution, breadth first (Alg. 28).

    Returns the enumeration and the initial masses (state id -> probability).
    """
    L = game.num_sl
    cs_all = CountSpace(k, L)
    # pi_g's law and the multinomial outcomes repeat across many micro states
    q_cache: dict[int, np.ndarray] = {}
    outcome_cache: dict[tuple[int, int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def action_law(full: np.ndarray) -> np.ndarray:
        r = int(cs_all.rank(full))
        if r not in q_cache:
            q_cache[r] = pi_g.action_law(full[None])[:, 0, :]  # [G, A_g]
        return q_cache[r]

    def outcomes(c: int, j: int, g: int, a: int) -> tuple[np.ndarray, np.ndarray]:
        key = (c, j, g, a)
        if key not in outcome_cache:
            outcome_cache[key] = _multinomial_outcomes(c, game.P_l[j, g, a])
        return outcome_cache[key]

    chain = _MeanFieldEnumeration()
    init = _mean_field_initial_states(game, k, chain)
    head = 0
    while head < len(chain.keys):
        if len(chain.keys) > max_states:
            raise MemoryBudgetError(
                f"the mean-field chained MDP (k={k}) exceeded {max_states} micro states"
            )
        key = chain.keys[head]
        if key[0] == "0":
            _tag_step(game, k, action_law, chain, head, key)
        else:
            _bin_step(game, k, outcomes, chain, head, key)
        head += 1
    return chain, init


def mean_field_chained_mdp(
    game: TabularGame,
    pi_g: GlobalPolicy,
    k: int,
    T: int,
    *,
    budget: int | None = None,
    max_states: int = MAX_MEAN_FIELD_CHAIN_STATES,
) -> ChainedMDP:
    """The mean-field chained MDP of Algorithm 28 with ``T`` macro steps (``H = T (|S_l|+1)``).

    Its states are enumerated by reachability from the initial distribution. A shared
    DETERMINISTIC local policy has the same value here as in the ``k``-agent system; a
    stochastic one is evaluated with one action draw per bin (all of bin ``j`` acting
    alike), which is the chain's semantics, not online execution's.
    """
    _check_k_T(k, T)
    _check_policy(game, pi_g, k)
    L, G, A = game.num_sl, game.num_sg, game.num_al
    _check_mean_field_size(L, G, A, k, budget, max_states)
    chain, init = _enumerate_mean_field_chain(game, pi_g, k, max_states)
    keys = chain.keys
    n = len(keys)
    P = sp.csr_matrix((chain.vals, (chain.rows, chain.cols)), shape=(n * A, n))
    P.sum_duplicates()
    reward = np.zeros((n, A))
    if chain.rew:
        rr = np.asarray(chain.rew)
        reward[rr[:, 0].astype(int), rr[:, 1].astype(int)] = rr[:, 2]
    initial = np.zeros(n)
    for s, pr in init.items():
        initial[s] += pr
    initial /= initial.sum()
    obs = np.array([chain.obs_of[s] for s in range(n)], dtype=np.int64)
    H = T * (L + 1)
    tw = game.gamma ** (np.arange(H) // (L + 1))
    mdp = EpisodicMDP(
        P=P,
        reward=reward,
        horizon=H,
        initial=initial,
        num_actions=A,
        time_weight=tw,
        observation=obs,
        num_observations=L * G,
        name=f"mean-field-chain(k={k},T={T})",
    )
    return ChainedMDP(mdp, "mean-field", k, T, L + 1, L, G, lambda s: keys[int(s)])


def chained_mdp(
    game: TabularGame, pi_g: GlobalPolicy, k: int, T: int, *, kind: str = "k", **kw
) -> ChainedMDP:
    """Either chain by name: ``kind="k"`` (Algorithm 21) or ``"mean-field"`` (Algorithm 28)."""
    if kind == "k":
        return k_chained_mdp(game, pi_g, k, T, **kw)
    if kind == "mean-field":
        return mean_field_chained_mdp(game, pi_g, k, T, **kw)
    raise AltmarlError(f"chain kind {kind!r} must be 'k' or 'mean-field'")
