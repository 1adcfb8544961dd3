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
from dataclasses import dataclass

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
    ts = TupleSpace(k, L)
    X = ts.size
    N0 = X * G
    layer = X * G * G  # states per pointer value i >= 1

    def idx_ptr(x, g, pend, i):  # i >= 1
        return N0 + (i - 1) * layer + (x * G + g) * G + pend

    tuples = ts.all()  # [X, k]
    counts = ts.counts(np.arange(X))  # [X, L]
    q = pi_g.action_law(counts)  # [G, X, Ag]
    rows, cols, vals = [], [], []
    reward = np.zeros((n_states, A))

    # i = 0: a_g ~ q, pending ~ P_g(. | g, a_g); every learner action has the same effect.
    pend_prob = np.einsum("gxa,gap->gxp", q, game.P_g)  # [G, X, G']
    rg = np.einsum("gxa,ga->gx", q, game.r_g)
    x_, g_, p_ = np.meshgrid(np.arange(X), np.arange(G), np.arange(G), indexing="ij")
    src = x_ * G + g_
    dst = idx_ptr(x_, g_, p_, 1)
    pr = pend_prob[g_, x_, p_]
    for a in range(A):
        rows.append((src * A + a).ravel())
        cols.append(dst.ravel())
        vals.append(pr.ravel())
    reward[:N0] = rg.T.reshape(N0)[:, None]

    # i = 1..k: replica i moves alone.
    weights = L ** np.arange(k - 1, -1, -1, dtype=np.int64)
    x_, g_, p_ = np.meshgrid(np.arange(X), np.arange(G), np.arange(G), indexing="ij")
    x_, g_, p_ = x_.ravel(), g_.ravel(), p_.ravel()
    for i in range(1, k + 1):
        s_i = tuples[x_, i - 1]
        src = idx_ptr(x_, g_, p_, i)
        reward[src] = game.r_l[s_i, g_, :] / k
        for a in range(A):
            for s_new in range(L):
                x_new = x_ + (s_new - s_i) * weights[i - 1]
                dst = idx_ptr(x_new, g_, p_, i + 1) if i < k else x_new * G + p_
                rows.append(src * A + a)
                cols.append(dst)
                vals.append(game.P_l[s_i, g_, a, s_new])
    rows_a = np.concatenate(rows)
    cols_a = np.concatenate(cols)
    vals_a = np.concatenate(vals)
    keep = vals_a > 0
    P = sp.csr_matrix((vals_a[keep], (rows_a[keep], cols_a[keep])), shape=(n_states * A, n_states))
    P.sum_duplicates()

    obs = np.full(n_states, -1, dtype=np.int64)
    for i in range(1, k + 1):
        s_i = tuples[x_, i - 1]
        obs[idx_ptr(x_, g_, p_, i)] = s_i * G + g_
    initial = np.zeros(n_states)
    px = ordered_tuple_prob(game, counts)  # [X]
    initial[:N0] = (px[:, None] * game.rho_g[None, :]).ravel()
    initial /= initial.sum()
    H = T * (k + 1)
    tw = game.gamma ** (np.arange(H) // (k + 1))

    def decode(s: int) -> tuple:
        s = int(s)
        if s < N0:
            x, g = divmod(s, G)
            return (tuple(int(v) for v in tuples[x]), g, None, 0)
        i0, rest = divmod(s - N0, layer)
        xg, pend = divmod(rest, G)
        x, g = divmod(xg, G)
        return (tuple(int(v) for v in tuples[x]), g, pend, i0 + 1)

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
    return ChainedMDP(mdp, "k", k, T, k + 1, L, G, decode)


def k_chain_state_index(chain: ChainedMDP, replicas, s_g: int, pending: int | None, i: int) -> int:
    """Index of the micro state ``(s_1..s_k, s_g, s_g_pending, i)`` of a k-chained MDP."""
    L, G, k = chain.num_sl, chain.num_sg, chain.k
    x = int(TupleSpace(k, L).index(np.asarray(replicas)))
    if i == 0:
        return x * G + s_g
    return L**k * G + (i - 1) * L**k * G * G + (x * G + s_g) * G + int(pending)


def mean_field_chain_state_bound(num_sl: int, num_sg: int, k: int) -> int:
    """An upper bound on the reachable micro states of Algorithm 28's chain."""
    L, G = num_sl, num_sg
    phase0 = L * math.comb(k - 1 + L - 1, L - 1) * G
    sweep = sum(L * G * G * math.comb(k - 1 + (2 * L - j) - 1, (2 * L - j) - 1) for j in range(L))
    return phase0 + sweep


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
    cs_all = CountSpace(k, L)
    eye = np.eye(L, dtype=np.int64)

    index: dict[tuple, int] = {}
    keys: list[tuple] = []

    def sid(key: tuple) -> int:
        j = index.get(key)
        if j is None:
            j = index[key] = len(keys)
            keys.append(key)
        return j

    # Outcomes of Multinomial(c, P_l(. | j, g, a)) for the bin sweep, cached.
    outcome_cache: dict[tuple[int, int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def outcomes(c: int, j: int, g: int, a: int) -> tuple[np.ndarray, np.ndarray]:
        key = (c, j, g, a)
        if key not in outcome_cache:
            moves = CountSpace(c, L).all()
            p = game.P_l[j, g, a]
            with np.errstate(divide="ignore"):
                logp = (
                    gammaln(c + 1)
                    - gammaln(moves + 1).sum(1)
                    + np.where(moves > 0, moves * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(1)
                )
            ok = ~((moves > 0) & (p[None, :] == 0)).any(1)
            outcome_cache[key] = (moves[ok], np.exp(logp[ok]))
        return outcome_cache[key]

    # initial states: ("0", s_tag, others, g)
    init: dict[int, float] = {}
    cs_others = CountSpace(k - 1, L)
    others_all = cs_others.all()
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
                    s = sid(("0", s_tag, tuple(int(v) for v in row), g))
                    init[s] = init.get(s, 0.0) + pr * game.rho_g[g]

    q_cache: dict[int, np.ndarray] = {}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    rew: list[tuple[int, int, float]] = []
    obs_of: dict[int, int] = {}
    head = 0
    while head < len(keys):
        if len(keys) > max_states:
            raise MemoryBudgetError(
                f"the mean-field chained MDP (k={k}) exceeded {max_states} micro states"
            )
        s = head
        key = keys[head]
        head += 1
        if key[0] == "0":
            _, s_tag, others, g = key
            full = np.asarray(others) + eye[s_tag]
            r = int(cs_all.rank(full))
            if r not in q_cache:
                q_cache[r] = pi_g.action_law(full[None])[:, 0, :]  # [G, A_g]
            qa = q_cache[r][g]
            pend = qa @ game.P_g[g]  # [G']
            rg = float(qa @ game.r_g[g])
            obs_of[s] = s_tag * G + g
            for a in range(A):
                rew.append((s, a, rg + game.r_l[s_tag, g, a] / k))
                for s_new in range(L):
                    p_move = game.P_l[s_tag, g, a, s_new]
                    if p_move == 0:
                        continue
                    for gp in range(G):
                        if pend[gp] == 0:
                            continue
                        nxt = sid(("b", 0, s_new, g, gp, others, (0,) * L))
                        rows.append(s * A + a)
                        cols.append(nxt)
                        vals.append(p_move * pend[gp])
        else:
            _, j, s_tag, g, gp, old, new = key
            c = old[j]
            obs_of[s] = j * G + g if c > 0 else -1
            for a in range(A):
                rew.append((s, a, c * game.r_l[j, g, a] / k))
                moves, probs = outcomes(c, j, g, a)
                for mv, pr in zip(moves, probs, strict=True):
                    new2 = tuple(int(v) for v in np.asarray(new) + mv)
                    if j + 1 < L:
                        nxt = sid(("b", j + 1, s_tag, g, gp, old, new2))
                    else:
                        nxt = sid(("0", s_tag, new2, gp))
                    rows.append(s * A + a)
                    cols.append(nxt)
                    vals.append(pr)
    n = len(keys)
    P = sp.csr_matrix((vals, (rows, cols)), shape=(n * A, n))
    P.sum_duplicates()
    reward = np.zeros((n, A))
    if rew:
        rr = np.asarray(rew)
        reward[rr[:, 0].astype(int), rr[:, 1].astype(int)] = rr[:, 2]
    initial = np.zeros(n)
    for s, pr in init.items():
        initial[s] += pr
    initial /= initial.sum()
    obs = np.array([obs_of[s] for s in range(n)], dtype=np.int64)
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
