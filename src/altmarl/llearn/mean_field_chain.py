"""The mean-field chained MDP (Algorithm 28, SPEC §4b): a tagged agent plus the counts of
the other ``k - 1``, whose bins move one micro step each. Its micro steps, observations
and horizon are described in :mod:`altmarl.llearn.chained`; here the micro states are
enumerated breadth first by reachability from the initial distribution."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.special import gammaln

from altmarl.counts import CountSpace
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

#: Largest number of micro states the Python enumeration of Algorithm 28 will visit.
MAX_MEAN_FIELD_CHAIN_STATES = 2_000_000


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
        bound * A * L * BYTES_PER_NNZ,
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
    check_k_T(k, T)
    check_policy(game, pi_g, k)
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
    mdp = chain_episodic_mdp(
        game, P, reward, initial, obs, A, L * G, T, L + 1, name=f"mean-field-chain(k={k},T={T})"
    )
    return ChainedMDP(mdp, "mean-field", k, T, L + 1, L, G, lambda s: keys[int(s)])
