"""An exact Nash-gap certificate for tiny systems (SPEC §2, Def. 2.3/2.4).

Online execution of ``(pi_g, pi_l)`` with ``n`` agents is a Markov chain on
``(s_g, N)`` (see :mod:`altmarl.exact`). The certificate composes three exact objects:

* ``value``: ``V(pi_g, pi_l)`` from the initial distribution;
* ``global_gap_upper``: the optimal full-information global controller against ``pi_l``
  (it sees all ``n`` agents, so it dominates every feasible, subsampled deviation) minus
  ``value``;
* ``local_gap_upper``: the optimal centralised controller that, against ``pi_g``, splits
  each bin's agents across local actions (any shared local policy, deterministic or not,
  induces such a split at random, so this dominates every shared local deviation) minus
  ``value``.

Definition 2.4 quantifies over every state: each gap is reported both from the initial
law (``*_gap_upper``, the average over ``(s_g(0), N(0))``) and as the supremum over every
state ``(s_g, N)`` of the count chain (``*_gap_upper_sup``, with the arg-max state
``*_sup_state``: ``s_g`` and the counts ``N``). ``(pi_g, pi_l)`` is an ``eps``-NE with
``eps = max(global_gap_upper_sup, local_gap_upper_sup)``; ``eps_initial`` is the same
maximum over the initial-law gaps (a pair can look much better from the initial law).
Where the restricted classes are small, the exact restricted gaps (best deterministic
mean-field ``pi_g'`` over ``(s_g, c in C_k)``, best deterministic shared ``pi_l'``) are
computed by enumeration as well, from the initial law and per state (the best deviation
may differ from state to state); they are lower bounds on the true restricted gaps and
never exceed the upper bounds.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from altmarl.counts import CountSpace
from altmarl.errors import AltmarlError
from altmarl.exact import (
    evaluate_exact,
    global_action_table,
    optimal_global_control,
    population_model,
)
from altmarl.game import TabularGame
from altmarl.laws import (
    convolve_counts,
    hypergeometric_matrix,
    initial_count_distribution,
    multinomial_pmf,
)
from altmarl.policies import GlobalActor, GlobalPolicy, LocalPolicy, check_pair_fits_game

#: Restricted classes with at most this many deterministic policies are enumerated.
DEFAULT_MAX_ENUMERATE = 4096
#: Largest number of (state, local split) pairs of the centralised local controller.
MAX_SPLIT_ACTIONS = 2_000_000


@dataclass(frozen=True)
class Certificate:
    """Exact value and Nash-gap bounds of a policy pair (see the module docstring).

    ``*_gap_upper`` and ``*_gap_restricted`` are from the initial law; ``*_sup`` are the
    suprema over the states ``(s_g, N)`` of the count chain, attained at ``*_sup_state``
    (``{"s_g": ..., "counts": [...]}``).
    """

    value: float
    global_gap_upper: float
    local_gap_upper: float
    global_gap_restricted: float | None
    local_gap_restricted: float | None
    n: int
    k: int
    chain_states: int
    seconds: float
    global_gap_upper_sup: float = math.nan
    local_gap_upper_sup: float = math.nan
    global_sup_state: dict[str, Any] = field(default_factory=dict)
    local_sup_state: dict[str, Any] = field(default_factory=dict)
    global_gap_restricted_sup: float | None = None
    local_gap_restricted_sup: float | None = None

    @property
    def eps(self) -> float:
        """The pair is an ``eps``-NE (Definition 2.4, every state) with ``eps`` the larger
        supremum over states of the two upper bounds."""
        return max(self.global_gap_upper_sup, self.local_gap_upper_sup, 0.0)

    @property
    def eps_initial(self) -> float:
        """The larger of the two upper bounds from the initial law."""
        return max(self.global_gap_upper, self.local_gap_upper, 0.0)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["eps"] = self.eps
        d["eps_initial"] = self.eps_initial
        return d


def _sup_over_states(gains: np.ndarray, space: CountSpace) -> tuple[float, dict[str, Any]]:
    """``max`` of ``gains [S_g, |C_n|]`` and its state ``(s_g, counts)``."""
    g, rank = np.unravel_index(int(np.argmax(gains)), gains.shape)
    counts = space.unrank(np.array([rank]))[0]
    return float(gains[g, rank]), {"s_g": int(g), "counts": [int(c) for c in counts]}


def local_split_control(
    game: TabularGame,
    global_policy: GlobalActor,
    n: int,
    k: int,
    tol: float = 1e-12,
) -> tuple[float, np.ndarray]:
    """Optimal centralised local controller against ``pi_g`` (policy iteration).

    In state ``(s_g, N)`` it picks, for every bin ``j``, a split ``M_j in C_{N_j}(A_l)``
    of that bin's agents over local actions. ``a_g`` follows ``pi_g`` on a hypergeometric
    subsample of ``N`` (unaffected by the split). Returns (value from the initial
    distribution, values ``[S_g, |C_n|]``).
    """
    S_g, L, A = game.num_sg, game.num_sl, game.num_al
    space = CountSpace(n, L)
    counts = space.all()
    C = space.size
    act = global_action_table(global_policy, S_g, k, L)
    probs = np.einsum("Nc,gca->gNa", hypergeometric_matrix(n, k, L), act)  # [g, N, a_g]
    rg = np.einsum("gNa,ga->gN", probs, game.r_g)
    global_next = np.einsum("gNa,gah->gNh", probs, game.P_g)
    splits = [CountSpace(m, A).all() for m in range(n + 1)]
    _check_split_pairs(S_g, counts, splits, n)
    rewards, kernels = _split_tables(game, rg, counts, splits, n)

    gamma = game.gamma
    choice = np.zeros((S_g, C), dtype=np.int64)
    initial = game.rho_g[:, None] * initial_count_distribution(game, n)[None, :]
    for _ in range(500):
        V = _split_choice_values(rewards, kernels, global_next, choice, gamma)
        choice, changed = _improve_split_choice(
            rewards, kernels, global_next, V, choice, gamma, tol
        )
        if not changed:
            break
    return float((initial * V).sum()), V


def _check_split_pairs(S_g: int, counts: np.ndarray, splits: list[np.ndarray], n: int) -> None:
    """Refuse a centralised local controller with over ``MAX_SPLIT_ACTIONS`` (state, split) pairs.

    counts: [|C_n|, S_l]; splits[m]: [|C_m(A_l)|, A_l], the splits of ``m`` agents.
    """
    n_pairs = S_g * sum(int(np.prod([len(splits[c]) for c in N])) for N in counts)
    if n_pairs > MAX_SPLIT_ACTIONS:
        raise AltmarlError(
            f"the centralised local controller has {n_pairs} (state, split) pairs for n={n}, "
            f"over {MAX_SPLIT_ACTIONS}; certify a smaller n"
        )


def _split_tables(
    game: TabularGame,
    rg: np.ndarray,
    counts: np.ndarray,
    splits: list[np.ndarray],
    n: int,
) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
    """Reward and next-count law of every split ``M`` in every state ``(s_g, N)``.

    rg: [S_g, |C_n|] expected global reward under ``pi_g``; counts: [|C_n|, S_l];
    splits[m]: [|C_m(A_l)|, A_l]. Returns ``rewards[g][i]: [num_splits]`` and
    ``kernels[g][i]: [num_splits, |C_n|]``, splits in ``itertools.product`` order over bins.
    """
    S_g, L, A = game.num_sg, game.num_sl, game.num_al
    rewards: list[list[np.ndarray]] = []
    kernels: list[list[np.ndarray]] = []
    for g in range(S_g):
        # tabulated once per s_g: every split of every state (s_g, N) reuses these laws
        pmf = [
            [
                [multinomial_pmf(CountSpace(m, L), game.P_l[j, g, a]) for m in range(n + 1)]
                for a in range(A)
            ]
            for j in range(L)
        ]
        r_row, k_row = [], []
        for i, N in enumerate(counts):
            choices = [splits[int(N[j])] for j in range(L)]
            rs, ks = [], []
            for combo in itertools.product(*choices):
                M = np.array(combo)  # [L, A]
                rs.append(rg[g, i] + (M * game.r_l[:, g, :]).sum() / n)
                groups = [
                    (int(M[j, a]), pmf[j][a][int(M[j, a])]) for j in range(L) for a in range(A)
                ]
                ks.append(convolve_counts(groups, L))
            r_row.append(np.array(rs))
            k_row.append(np.array(ks))
        rewards.append(r_row)
        kernels.append(k_row)
    return rewards, kernels


def _split_choice_values(
    rewards: list[list[np.ndarray]],
    kernels: list[list[np.ndarray]],
    global_next: np.ndarray,
    choice: np.ndarray,
    gamma: float,
) -> np.ndarray:
    """Exact values ``[S_g, |C_n|]`` of the split policy ``choice`` (policy evaluation).

    global_next: [S_g, |C_n|, S_g] law of the next global state; choice: int [S_g, |C_n|]
    index of the split used in each state. Solves ``(I - gamma P) V = r`` on the sparse
    chain over ``(s_g, N)``, flattened as ``s_g * |C_n| + rank(N)``.
    """
    S_g, C = choice.shape
    rows, cols, vals = [], [], []
    r_vec = np.empty(S_g * C)
    for g in range(S_g):
        for i in range(C):
            kern = kernels[g][i][choice[g, i]]
            r_vec[g * C + i] = rewards[g][i][choice[g, i]]
            nz = np.nonzero(kern)[0]
            for h in range(S_g):
                w = global_next[g, i, h]
                if w > 0:
                    rows.append(np.full(nz.size, g * C + i))
                    cols.append(h * C + nz)
                    vals.append(w * kern[nz])
    P = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(S_g * C, S_g * C),
    )
    V = spla.spsolve(sp.identity(S_g * C, format="csc") - gamma * P.tocsc(), r_vec)
    return V.reshape(S_g, C)


def _improve_split_choice(
    rewards: list[list[np.ndarray]],
    kernels: list[list[np.ndarray]],
    global_next: np.ndarray,
    V: np.ndarray,
    choice: np.ndarray,
    gamma: float,
    tol: float,
) -> tuple[np.ndarray, bool]:
    """Greedy improvement of ``choice`` against ``V`` (policy iteration's improvement step).

    V: [S_g, |C_n|]; choice: int [S_g, |C_n|]. A state switches split only when the gain
    exceeds ``tol`` relative to the best Q, so floating-point ties cannot cycle. Returns
    the new choice (a copy) and whether it changed.
    """
    S_g, C = choice.shape
    choice = choice.copy()
    changed = False
    for g in range(S_g):
        for i in range(C):
            q = rewards[g][i] + gamma * kernels[g][i] @ (V.T @ global_next[g, i])
            best = int(q.argmax())
            if q[best] > q[choice[g, i]] + tol * max(1.0, abs(q[best])):
                choice[g, i] = best
                changed = True
    return choice, changed


def certify(
    game: TabularGame,
    global_policy: GlobalPolicy,
    local_policy: LocalPolicy,
    n: int,
    k: int,
    *,
    max_enumerate: int = DEFAULT_MAX_ENUMERATE,
) -> Certificate:
    """Exact value and Nash-gap bounds of ``(pi_g, pi_l)`` with ``n`` agents, subsample ``k``."""
    t0 = time.perf_counter()
    if not 1 <= k <= n:
        raise AltmarlError(f"--k {k} must satisfy 1 <= k <= --n {n}")
    check_pair_fits_game(global_policy, local_policy, game)
    if global_policy.k != k:
        raise AltmarlError(f"--k {k} differs from the policy's k = {global_policy.k}")
    model = population_model(game, local_policy, n)
    own = evaluate_exact(game, global_policy, local_policy, n, k, model=model)
    value, V = own.value, own.values
    g_opt = optimal_global_control(game, local_policy, n, model=model)
    l_opt, l_values = local_split_control(game, global_policy, n, k)
    g_sup, g_state = _sup_over_states(g_opt.values - V, model.space)
    l_sup, l_state = _sup_over_states(l_values - V, model.space)

    S_g, L = game.num_sg, game.num_sl
    g_restricted = g_restricted_sup = None
    cs = CountSpace(k, L)
    if game.num_ag ** (S_g * cs.size) <= max_enumerate:
        best, best_states = -np.inf, np.full_like(V, -np.inf)
        for table in itertools.product(range(game.num_ag), repeat=S_g * cs.size):
            pg = GlobalPolicy(np.array(table).reshape(S_g, cs.size), k, L, game.num_ag)
            ev = evaluate_exact(game, pg, local_policy, n, k, model=model)
            best, best_states = max(best, ev.value), np.maximum(best_states, ev.values)
        g_restricted, g_restricted_sup = best - value, float((best_states - V).max())
    l_restricted = l_restricted_sup = None
    if game.num_al ** (L * S_g) <= max_enumerate:
        best, best_states = -np.inf, np.full_like(V, -np.inf)
        for table in itertools.product(range(game.num_al), repeat=L * S_g):
            pl = LocalPolicy.deterministic(np.array(table).reshape(L, S_g), game.num_al)
            ev = evaluate_exact(game, global_policy, pl, n, k)
            best, best_states = max(best, ev.value), np.maximum(best_states, ev.values)
        l_restricted, l_restricted_sup = best - value, float((best_states - V).max())
    return Certificate(
        value=value,
        global_gap_upper=g_opt.value - value,
        local_gap_upper=l_opt - value,
        global_gap_restricted=g_restricted,
        local_gap_restricted=l_restricted,
        n=n,
        k=k,
        chain_states=S_g * model.space.size,
        seconds=time.perf_counter() - t0,
        global_gap_upper_sup=g_sup,
        local_gap_upper_sup=l_sup,
        global_sup_state=g_state,
        local_sup_state=l_state,
        global_gap_restricted_sup=g_restricted_sup,
        local_gap_restricted_sup=l_restricted_sup,
    )
