"""Online execution of many pairs under common random numbers (SPEC §6, for SPEC §5's UPDATE).

:func:`crn_returns` runs every pair of a list on the same rollouts: rollout ``r`` of every
pair is driven by the same random numbers, and rollout ``r``'s numbers depend only on the
evaluation seed and ``r``. So

* a paired difference ``G_new[r] - G_old[r]`` cancels the noise the two pairs share
  (strong coupling: each draw is an inverse-CDF or mode-search transform of ONE uniform, and
  the uniform of draw ``slot`` at step ``t`` of rollout ``r`` is a counter-based hash of
  ``(key_r, t, slot)``, so a draw one pair makes and another does not never shifts the
  numbers of later draws);
* rollouts ``[0, R)`` and ``[R, 2R)`` asked for separately are the rollouts ``[0, 2R)`` asked
  for at once: a sequential test extends every pair consistently batch by batch;
* a pair's returns do not depend on which other pairs share the call.

The state is ``(s_g, counts of the n agents)`` as in
:class:`~altmarl.simulate.CountSimulator` (exact in distribution): the subsample is drawn
without replacement agent by agent, every bin's agents split over the joint outcomes
``(a_l, s_l')`` by a multinomial (sequential binomials, each by a search from the mode
that maps one uniform to an exact binomial draw). The per-step cost grows like ``k`` plus
the binomials' standard deviations, not like ``n``. Large calls run in threads over
(pair, rollout) (the kernel releases the GIL), up to numba's thread cap.

Its random stream is its own: the numbers differ from :func:`~altmarl.simulate.evaluate`'s
for the same seed; the law is the same (tests/simulate/test_crn.py checks it against the
exact chain).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numba as nb
import numpy as np

from altmarl.counts import CountSpace, binom_table, rank_count
from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.policies import GlobalPolicy, LocalPolicy, check_pair_fits_game
from altmarl.simulate.crn_random import (
    _binomial,
    _binomial_q,
    _gamma,
    _uniform,
    rollout_keys,
)

__all__ = ["crn_returns", "rollout_keys"]

#: Counter offset of the stream that draws a rollout's initial state (never reached by steps).
_INIT = np.uint64(1 << 62)
#: Pair-steps below which a call runs in one thread (thread start-up would dominate).
_JOB_STEPS_PER_THREAD = 200_000
#: Largest ``n`` whose log-factorials are tabulated; beyond, ``lgamma`` is called.
_LOGFACT_TABLE = 1 << 20


@nb.njit(cache=True)
def _initial_state(key, rho_g_cdf, rho_l, alpha, n, lf, counts):
    """``s_g(0) ~ rho_g`` and the initial counts ``~ Multinomial(n, rho)`` with ``rho`` fixed
    or ``~ Dirichlet(alpha)``; writes ``counts [L]``, returns ``s_g(0)``."""
    L = counts.shape[0]
    counter = _INIT
    u = _uniform(key, counter)
    counter += np.uint64(1)
    g = 0
    while g < rho_g_cdf.shape[0] - 1 and u >= rho_g_cdf[g]:
        g += 1
    rho = np.empty(L)
    if alpha.shape[0] > 0:
        total = 0.0
        for j in range(L):
            x, counter = _gamma(alpha[j], key, counter)
            rho[j] = x
            total += x
        for j in range(L):
            rho[j] /= total
    else:
        for j in range(L):
            rho[j] = rho_l[j]
    left = n
    mass = 1.0
    for j in range(L):
        if j == L - 1 or left == 0:
            counts[j] = left
            left = 0
            continue
        q = rho[j] / mass if mass > 0 else 1.0
        x = _binomial_q(left, min(q, 1.0), _uniform(key, counter), lf)
        counter += np.uint64(1)
        counts[j] = x
        left -= x
        mass -= rho[j]
    return g


@nb.njit(cache=True, nogil=True)
def _crn_kernel(
    keys,
    g_index,
    l_index,
    tables,
    laws,
    law_of,
    cond,
    rl_out,
    r_g,
    P_g_cdf,
    rho_g_cdf,
    rho_l,
    alpha,
    binom,
    lf,
    n,
    k,
    horizon,
    gamma,
    job_lo,
    job_hi,
    out,
):
    """Discounted returns ``out[c, r]`` of pair ``c`` on rollout ``r`` for the jobs
    ``c R + r`` in ``[job_lo, job_hi)`` (see the module docstring). No GIL: callers run
    disjoint job ranges in threads.

    tables: int16 ``[G_u, S_g, |C_k|]`` actions (``-1``: use ``laws[law_of[g]]``, the
    action CDF ``[S_g, |C_k|, A_g]`` of a stochastic policy); cond: ``[L_u, L, S_g, K, 4]``
    conditional probabilities of the sequential binomials over the ``K = A_l S_l`` joint
    outcomes of a bin (with ``log q``, ``log(1-q)``, ``q/(1-q)``); rl_out: ``[L_u, L, S_g,
    K]`` the local reward of each outcome.

    Kept whole on purpose: one step reads top to bottom in the order of its draw slots
    (subsample ``2..k+1``, ``a_g`` 0, the bins' outcomes, ``s_g'`` 1), which is the
    counter layout the common random numbers rest on; it is the hot loop of UPDATE and
    exploit, runs without the GIL, and a split into ``@njit`` helpers would have to be timed
    again against it.
    """
    R = keys.shape[0]
    L = cond.shape[1]
    K = cond.shape[3]
    S = P_g_cdf.shape[2]
    slots = np.uint64(2 + k + L * K)
    for job in range(job_lo, job_hi):
        c = job // R
        r = job - c * R
        key = keys[r]
        gi = g_index[c]
        li = l_index[c]
        N = np.empty(L, dtype=np.int64)
        g = _initial_state(key, rho_g_cdf, rho_l, alpha, n, lf, N)
        left = np.empty(L, dtype=np.int64)
        sub = np.empty(L, dtype=np.int64)
        nxt = np.empty(L, dtype=np.int64)
        total = 0.0
        disc = 1.0
        for t in range(horizon):
            base = np.uint64(t) * slots
            # the k-subsample, agent by agent without replacement (slots 2 .. k+1)
            for j in range(L):
                left[j] = N[j]
                sub[j] = 0
            rem = n
            for i in range(k):
                idx = int(_uniform(key, base + np.uint64(2 + i)) * rem)
                j = 0
                acc = left[0]
                while idx >= acc and j < L - 1:
                    j += 1
                    acc += left[j]
                sub[j] += 1
                left[j] -= 1
                rem -= 1
            col = rank_count(sub, binom)
            a = np.int64(tables[gi, g, col])
            if a < 0:  # a stochastic global policy: inverse CDF (slot 0)
                u = _uniform(key, base)
                law = laws[law_of[gi], g, col]
                a = 0
                while a < law.shape[0] - 1 and u >= law[a]:
                    a += 1
            # every bin's agents split over the joint outcomes (a_l, s_l')
            local = 0.0
            for j in range(L):
                nxt[j] = 0
            for j in range(L):
                m = N[j]
                o = 0
                while m > 0 and o < K:
                    q = cond[li, j, g, o, 0]
                    if q > 0.0:
                        u = _uniform(key, base + np.uint64(2 + k + j * K + o))
                        x = _binomial(
                            m,
                            q,
                            cond[li, j, g, o, 1],
                            cond[li, j, g, o, 2],
                            cond[li, j, g, o, 3],
                            u,
                            lf,
                        )
                        if x > 0:
                            local += x * rl_out[li, j, g, o]
                            nxt[o % L] += x
                            m -= x
                    o += 1
            total += disc * (r_g[g, a] + local / n)
            disc *= gamma
            for j in range(L):
                N[j] = nxt[j]
            u = _uniform(key, base + np.uint64(1))
            h = 0
            while h < S - 1 and u >= P_g_cdf[g, a, h]:
                h += 1
            g = h
        out[c, r] = total


def _conditional_tables(game: TabularGame, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sequential-binomial probabilities of the joint outcome ``o = a L + s'`` of one agent in
    bin ``j`` (``pi_l(a|j,g) P_l(s'|j,g,a)``) with their logarithms, ``[L, S_g, K, 4]``, and
    each outcome's reward ``[L, S_g, K]``."""
    L, G, A = game.num_sl, game.num_sg, game.num_al
    joint = (probs[:, :, :, None] * game.P_l).reshape(L, G, A * L)
    # mass at or after each outcome, summed from the end (no cancellation)
    tail = np.cumsum(joint[:, :, ::-1], axis=2)[:, :, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.where(tail > 0, joint / tail, 0.0)
    cond = np.clip(cond, 0.0, 1.0)
    cond[joint <= 0] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        # log q, log(1 - q), q / (1 - q): what every binomial draw of the kernel needs
        table = np.stack([cond, np.log(cond), np.log1p(-cond), cond / (1.0 - cond)], axis=-1)
    reward = np.repeat(game.r_l, L, axis=2)  # [L, G, A*L], outcome o -> action o // L
    return table, reward


def _global_arrays(
    game: TabularGame, policies: list[GlobalPolicy], k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stacked int16 action tables (``-1`` where a stochastic law is used), the laws' CDFs
    and which law each table uses."""
    L = game.num_sl
    size = CountSpace(k, L).size
    tables = np.empty((len(policies), game.num_sg, size), dtype=np.int16)
    laws: list[np.ndarray] = []
    law_of = np.full(len(policies), -1, dtype=np.int64)
    for i, pg in enumerate(policies):
        if pg.parameterization == "mean-field":
            tables[i] = pg.table
            continue
        law = pg.action_law(CountSpace(k, L).all(), game.num_sg)  # [S_g, C_k, A_g]
        if np.all((law == 0) | (law == 1)):
            tables[i] = law.argmax(axis=2)
            continue
        tables[i] = -1
        law_of[i] = len(laws)
        laws.append(np.cumsum(law, axis=2))
    stacked = (
        np.stack(laws) if laws else np.zeros((1, 1, 1, 1))  # numba needs an array either way
    )
    return tables, stacked, law_of


def _unique(items: Sequence[object]) -> tuple[list[object], np.ndarray]:
    """Distinct objects (by identity) and each item's index among them."""
    seen: dict[int, int] = {}
    uniq: list[object] = []
    index = np.empty(len(items), dtype=np.int64)
    for i, obj in enumerate(items):
        j = seen.setdefault(id(obj), len(uniq))
        if j == len(uniq):
            uniq.append(obj)
        index[i] = j
    return uniq, index


def crn_returns(
    game: TabularGame,
    pairs: Sequence[tuple[GlobalPolicy, LocalPolicy]],
    *,
    n: int,
    k: int,
    horizon: int,
    seed: int | np.random.SeedSequence,
    start: int = 0,
    stop: int = 100,
) -> np.ndarray:
    """Discounted returns ``sum_{t<H} gamma^t r_t`` of every pair on rollouts
    ``start .. stop-1`` of the evaluation seeded by ``seed``: ``[len(pairs), stop - start]``.

    Every pair sees the same random numbers on the same rollout (see the module docstring).
    """
    n, k, horizon = int(n), int(k), int(horizon)
    _check_crn_args(game, pairs, n, k, horizon, start, stop)
    out = np.zeros((len(pairs), stop - start))
    if not pairs or stop == start:
        return out
    g_uniq, g_index = _unique([p[0] for p in pairs])
    l_uniq, l_index = _unique([p[1] for p in pairs])
    tables, laws, law_of = _global_arrays(game, g_uniq, k)  # type: ignore[arg-type]
    conds, rewards = zip(*(_conditional_tables(game, pl.probs) for pl in l_uniq), strict=True)  # type: ignore[attr-defined]
    alpha = (
        np.asarray(game.dirichlet_alpha, dtype=np.float64)
        if game.dirichlet_alpha is not None
        else np.zeros(0)
    )
    rho_l = (
        np.asarray(game.rho_l, dtype=np.float64)
        if game.rho_l is not None
        else np.zeros(game.num_sl)
    )
    size = min(n, _LOGFACT_TABLE) + 1
    lf = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, size, dtype=np.float64)))))
    args = (
        rollout_keys(seed, start, stop),
        g_index,
        l_index,
        tables,
        laws,
        law_of,
        np.ascontiguousarray(np.stack(conds)),
        np.ascontiguousarray(np.stack(rewards)),
        np.ascontiguousarray(game.r_g, dtype=np.float64),
        np.cumsum(game.P_g, axis=2),
        np.cumsum(game.rho_g),
        rho_l,
        alpha,
        binom_table(k, game.num_sl),
        lf,
        n,
        k,
        horizon,
        float(game.gamma),
    )
    jobs = out.size
    # threads only pay off for large calls; numba's thread cap (sweep workers set 1) holds
    threads = max(1, min(nb.get_num_threads(), jobs * horizon // _JOB_STEPS_PER_THREAD))
    if threads == 1:
        _crn_kernel(*args, 0, jobs, out)
        return out
    bounds = np.linspace(0, jobs, threads + 1).astype(np.int64)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: _crn_kernel(*args, bounds[i], bounds[i + 1], out), range(threads)))
    return out


def _check_crn_args(
    game: TabularGame,
    pairs: Sequence[tuple[GlobalPolicy, LocalPolicy]],
    n: int,
    k: int,
    horizon: int,
    start: int,
    stop: int,
) -> None:
    """Refuse arguments :func:`crn_returns` cannot run, naming the one at fault."""
    if n < 1:
        raise AltmarlError(f"n = {n} must be >= 1")
    if not 0 <= k <= n:
        raise AltmarlError(f"k = {k} must satisfy 0 <= k <= n = {n}")
    if horizon < 1:
        raise AltmarlError(f"horizon = {horizon} must be >= 1")
    if not 0 <= start <= stop:
        raise AltmarlError(f"rollouts [{start}, {stop}) must satisfy 0 <= start <= stop")
    if game.num_ag > np.iinfo(np.int16).max:
        raise AltmarlError(f"|A_g| = {game.num_ag} is too large for the CRN simulator")
    for pg, pl in pairs:
        check_pair_fits_game(pg, pl, game)
        if pg.k != k:
            raise AltmarlError(f"k = {k} differs from a global policy's k = {pg.k}")
