"""G-LEARN: the global agent's best response to a fixed shared local policy (SPEC §3).

Fix ``pi_l``. The surrogate system has exactly ``k`` local agents ``Delta``; its
adapted Bellman operator is

    T_k Q(s_g, x, a_g) = r_Delta(s_g, x, a_g) + gamma E[ max_a' Q(s_g', x', a') ],
    r_Delta(s_g, x, a_g) = r_g(s_g, a_g) + (1/k) sum_{i in Delta} rbar_l(s_i, s_g),

where ``x`` is the ordered ``k``-tuple ``s_Delta`` (standard parameterization, ``|S_l|^k``
inputs, :class:`~altmarl.counts.TupleSpace` order) or its count vector ``c`` (mean-field
parameterization, ``|C_k|`` inputs, :class:`~altmarl.counts.CountSpace` rank order),
``s_g' ~ P_g(.|s_g, a_g)`` and every agent moves independently by ``Pbar_l(.|s_i, s_g)``.

Two operators are built here, both held as arrays (:class:`AdaptedOperator`):

* :func:`empirical_adapted_bellman` -- ``That_{k,m}``: the expectation over the local
  part replaced by the mean of ``m`` samples per ``(s_g, x)``, drawn ONCE and then held
  fixed, so ``That_{k,m}`` is a ``gamma``-contraction with a unique fixed point
  ``Qhat_{k,m}``. Design choices, all compatible with Lemma 4.3:

  - the next local part does not depend on ``a_g``, so one set of ``m`` samples per
    ``(s_g, x)`` serves every action (SPEC §3);
  - the next GLOBAL state is integrated exactly against ``P_g(.|s_g, a_g)`` instead of
    sampled (``|S_g|`` is small). This is a conditional expectation of the SPEC's
    sample mean, so it only lowers the variance; Hoeffding's range, hence the bound of
    Lemma 4.3, is unchanged;
  - ``sampling="common"`` (default) draws the samples with common random numbers: for
    sample ``j``, the ``t``-th agent of source state ``i`` moves to ``D[s_g, j, i, t]``,
    and the count vector ``c`` uses the first ``c_i`` draws of each ``i``. For each fixed
    ``(s_g, c)`` the ``m`` samples are i.i.d. with exactly the law
    ``c' = sum_i Multinomial(c_i, Pbar_l(.|i, s_g))``; different entries are coupled.
    The proof of Lemma 4.3 is per entry (Hoeffding) plus a union bound, which needs no
    independence between entries, so the bound holds as stated. The coupling makes the
    sampling cost ``O(|S_l|^2)`` per sample instead of ``O(k)`` draws.
    ``sampling="independent"`` draws fresh multinomials for every entry (slower;
    used to check the coupled sampler).

* :func:`exact_adapted_bellman` -- ``T_k`` itself (``m = None``): mean-field, the next
  count law is the convolution of the per-bin multinomials, computed exactly; standard,
  the product law over tuples (a Kronecker product). Dense ``[|X|, |X|]`` per ``s_g``,
  for small ``k``.

:func:`value_iteration` iterates an operator to its fixed point. Its default stopping
rule ("span", MacQueen's bounds with Anderson mixing) certifies ``||q - Qhat||_inf <= tol``
and is several times cheaper than the SPEC's plain rule ``||Q_{t+1} - Q_t||_inf <= tol``
(which only certifies ``gamma tol / (1-gamma)``); ``stopping="residual"`` gives the
SPEC's rule exactly. :func:`greedy_policy`
implements eq. 20 (argmax with seeded uniform tie-breaking); :func:`glearn` composes
them and returns a :class:`GLearnResult`. :class:`GlobalOracle` is the interface
ALTERNATING-MARL calls; :class:`GLearnOracle` is G-LEARN behind it.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numba
import numpy as np

from altmarl.counts import CountSpace, TupleSpace, check_memory
from altmarl.errors import AltmarlError, MemoryBudgetError
from altmarl.game import TabularGame
from altmarl.policies import PARAMETERIZATIONS, GlobalPolicy, LocalPolicy, Parameterization
from altmarl.rewards import RewardSampler, check_reward_sampler

Stopping = Literal["span", "certified", "residual"]
STOPPING_RULES: tuple[str, ...] = ("span", "certified", "residual")
Sampling = Literal["common", "independent"]
SAMPLING_SCHEMES: tuple[str, ...] = ("common", "independent")

#: Default number of samples per (s_g, x), as in the warehouse experiment (SPEC §7).
DEFAULT_M = 30


# =============================================================================== results


@dataclass(frozen=True)
class GLearnInfo:
    """Diagnostics of one G-LEARN call.

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

    iterations: int
    residual: float
    error_bound: float
    samples: int
    seconds: float
    table_size: int
    k: int
    m: int | None
    parameterization: str
    stopping: str
    converged: bool
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class GLearnResult:
    """``q``: ``[S_g, |X|, A_g]`` (Qhat_{k,m}); ``policy``: its greedy policy (eq. 20)."""

    q: np.ndarray
    policy: GlobalPolicy
    info: GLearnInfo

    @property
    def value_mean(self) -> float:
        """Mean over ``s_g`` and ``x`` of ``max_a Q`` (a one-number summary)."""
        return float(self.q.max(axis=-1).mean())


@runtime_checkable
class GlobalOracle(Protocol):
    """A global best-response routine (G-LEARN or any other) for ALTERNATING-MARL.

    ``best_response(game, local_policy, k, seed=..., q0=...)`` returns a
    :class:`GLearnResult`-like object with ``q``, ``policy`` and ``info``; ``q0`` is a
    warm start (or ``None``).
    """

    def best_response(
        self,
        game: TabularGame,
        local_policy: LocalPolicy,
        k: int,
        *,
        seed: int | np.random.Generator = 0,
        q0: np.ndarray | None = None,
    ) -> GLearnResult: ...


# =============================================================================== spaces


def _space(k: int, num_local_states: int, parameterization: str) -> CountSpace | TupleSpace:
    if parameterization == "mean-field":
        return CountSpace(k, num_local_states)
    if parameterization == "standard":
        return TupleSpace(k, num_local_states)
    raise AltmarlError(f"parameterization {parameterization!r} must be one of {PARAMETERIZATIONS}")


def _check_k(k: int) -> int:
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise AltmarlError(f"k = {k} must be an integer >= 1 (the number of sampled agents)")
    return int(k)


def _check_m(m: int | None) -> int | None:
    if m is None:
        return None
    if isinstance(m, bool) or int(m) != m or m < 1:
        raise AltmarlError(f"m = {m} must be an integer >= 1 (samples per entry) or None (exact)")
    return int(m)


def _require(nbytes: int, what: str, space: CountSpace | TupleSpace, k: int) -> None:
    check_memory(
        int(nbytes),
        f"{what} (k={k}, |X|={space.size})",
        hint="lower k or m, or use the mean-field parameterization",
    )


def _rng(seed: int | np.random.Generator | np.random.SeedSequence) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _local_part(game: TabularGame, local_policy: LocalPolicy) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(local_policy, LocalPolicy):
        local_policy = LocalPolicy(np.asarray(local_policy))
    local_policy.check_game(game.num_sl, game.num_sg, game.num_al)
    return game.averaged_local(local_policy.probs)


# =============================================================================== operator


@dataclass(frozen=True, eq=False)
class AdaptedOperator:
    """The adapted Bellman operator ``T_k`` or ``That_{k,m}`` held as arrays (SPEC §3).

    reward : ``[S_g, |X|, A_g]`` ``r_Delta`` (or its sampled mean, Appendix F).
    p_g : ``[S_g, A_g, S_g]`` global kernel (integrated exactly).
    next_index : ``[S_g, |X|, m]`` int32 sampled next local parts (``That_{k,m}``), or None.
    transition : ``[S_g, |X|, |X|]`` exact next-local-part law (``T_k``), or None.
    """

    reward: np.ndarray
    p_g: np.ndarray
    gamma: float
    k: int
    parameterization: str
    space: CountSpace | TupleSpace
    next_index: np.ndarray | None = None
    transition: np.ndarray | None = None
    samples: int = 0

    @property
    def m(self) -> int | None:
        return None if self.next_index is None else int(self.next_index.shape[2])

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.reward.shape  # type: ignore[return-value]

    def expected_next_value(self, v: np.ndarray) -> np.ndarray:
        """``W[s_g, x, s_g'] = E or mean over the local part of V[s_g', x']``; ``v: [S_g, |X|]``."""
        if self.transition is not None:
            return np.einsum("sxy,ty->sxt", self.transition, v)
        assert self.next_index is not None
        vt = np.ascontiguousarray(v.T)
        return vt[self.next_index].mean(axis=2)

    def apply(self, q: np.ndarray) -> np.ndarray:
        """``T Q`` for ``q: [S_g, |X|, A_g]`` (a plain, allocation-heavy reference route)."""
        w = self.expected_next_value(q.max(axis=-1))
        return self.reward + self.gamma * np.einsum("sxt,sat->sxa", w, self.p_g)


def surrogate_reward(
    game: TabularGame, rbar_l: np.ndarray, space: CountSpace | TupleSpace
) -> np.ndarray:
    """``r_Delta[s_g, x, a_g] = r_g(s_g, a_g) + (1/k) sum_i rbar_l(s_i, s_g)`` (SPEC §3)."""
    k = space.k
    if isinstance(space, CountSpace):
        counts = space.all().astype(np.float64)  # [X, L]
        local = counts @ rbar_l / k  # [X, S_g]
    else:
        tuples = space.all()  # [X, k]
        local = rbar_l[tuples].sum(axis=1) / k  # [X, S_g]
    return game.r_g[:, None, :] + local.T[:, :, None]


# ----------------------------------------------------------------- sampling the next parts


@numba.njit(cache=True)
def _rank_one(c: np.ndarray, binom: np.ndarray) -> np.int64:
    # Same combinatorial number system as CountSpace.rank.
    L = c.shape[0]
    r = np.int64(0)
    bar = np.int64(-1)
    for j in range(L - 1):
        bar += c[j] + 1
        r += binom[bar, j + 1]
    return r


@numba.njit(parallel=True, cache=True)
def _next_ranks_common(counts: np.ndarray, hist: np.ndarray, binom: np.ndarray) -> np.ndarray:
    """``next[s, x, j] = rank(sum_i hist[s, j, i, counts[x, i], :])``.

    counts : ``[X, L]`` count vectors; hist : ``[S, m, L, k+1, L]`` prefix histograms of the
    common destination draws; binom : rank table. Returns ``[S, X, m]`` int32.
    """
    X, L = counts.shape
    S, m = hist.shape[0], hist.shape[1]
    out = np.empty((S, X, m), dtype=np.int32)
    for x in numba.prange(X):
        nxt = np.empty(L, dtype=np.int64)
        for s in range(S):
            for j in range(m):
                nxt[:] = 0
                for i in range(L):
                    ci = counts[x, i]
                    if ci > 0:
                        for t in range(L):
                            nxt[t] += hist[s, j, i, ci, t]
                out[s, x, j] = _rank_one(nxt, binom)
    return out


def _binom_table(k: int, L: int) -> np.ndarray:
    table = np.zeros((k + L, max(L, 1)), dtype=np.int64)
    for x in range(k + L):
        for j in range(L):
            table[x, j] = math.comb(x, j)
    return table


def _destinations(
    p_bar: np.ndarray, rng: np.random.Generator, shape: tuple[int, ...]
) -> np.ndarray:
    """Next local states ``out[s, ..., i, t] ~ Pbar(.|i, s)``; ``shape = (S, *mid, L, T)``."""
    L, S = p_bar.shape[0], p_bar.shape[1]
    u = rng.random(shape)
    cdf = np.cumsum(p_bar, axis=-1)  # [L, S, L]
    out = np.empty(shape, dtype=np.int64)
    for s in range(S):
        for i in range(L):
            d = np.searchsorted(cdf[i, s], u[s, ..., i, :], side="right")
            out[s, ..., i, :] = np.minimum(d, L - 1)
    return out


def _sample_mean_field_common(
    space: CountSpace, p_bar: np.ndarray, m: int, rng: np.random.Generator
) -> np.ndarray:
    k, L = space.k, space.num_states
    S = p_bar.shape[1]
    dest = _destinations(p_bar, rng, (S, m, L, k))  # [S, m, L, k]
    onehot = (dest[..., None] == np.arange(L)).astype(np.int32)  # [S, m, L, k, L]
    hist = np.zeros((S, m, L, k + 1, L), dtype=np.int32)
    np.cumsum(onehot, axis=3, out=hist[:, :, :, 1:, :])
    return _next_ranks_common(space.all(), hist, _binom_table(k, L))


def _sample_mean_field_independent(
    space: CountSpace, p_bar: np.ndarray, m: int, rng: np.random.Generator
) -> np.ndarray:
    L = space.num_states
    S = p_bar.shape[1]
    counts = space.all()
    out = np.empty((S, space.size, m), dtype=np.int32)
    chunk = max(1, 2_000_000 // (m * L * L))
    for s in range(S):
        for lo in range(0, space.size, chunk):
            c = counts[lo : lo + chunk]  # [B, L]
            # moved[j, b, i, :] ~ Multinomial(c[b, i], Pbar(.|i, s)), fresh per entry
            moved = rng.multinomial(
                np.broadcast_to(c, (m, *c.shape)), p_bar[:, s, :], size=(m, *c.shape)
            )
            out[s, lo : lo + chunk] = space.rank(moved.sum(axis=2)).T
    return out


def _sample_standard(
    space: TupleSpace, p_bar: np.ndarray, m: int, rng: np.random.Generator, sampling: str
) -> np.ndarray:
    k, L = space.k, space.num_states
    S = p_bar.shape[1]
    tuples = space.all()  # [X, k]
    weights = L ** np.arange(k - 1, -1, -1, dtype=np.int64)
    out = np.empty((S, space.size, m), dtype=np.int32)
    if sampling == "common":
        # dest[s, j, p, i]: where the agent at position p goes from state i in sample j
        dest = _destinations(p_bar, rng, (S, m, L, k))  # [S, m, L, k]
        for s in range(S):
            # next tuple position p = dest[s, j, tuples[x, p], p]
            nxt = dest[s][:, tuples, np.arange(k)]  # [m, X, k]
            out[s] = (nxt @ weights).T
    else:
        cdf = np.cumsum(p_bar, axis=-1)  # [L, S, L]
        for s in range(S):
            u = rng.random((space.size, m, k))
            c = cdf[tuples, s]  # [X, k, L]
            nxt = (u[..., None] >= c[:, None, :, :]).sum(-1)  # [X, m, k]
            out[s] = np.minimum(nxt, L - 1) @ weights
    return out


def _sampled_reward(
    game: TabularGame,
    local_probs: np.ndarray,
    space: CountSpace | TupleSpace,
    m: int,
    sampler: RewardSampler,
    rng: np.random.Generator,
) -> np.ndarray:
    """Mean of ``m`` sampled stage rewards per entry (Definition F.2), common random numbers.

    Global part: ``m`` draws per ``(s_g, a_g)``, shared by every ``x``. Local part: for
    source state ``i`` and slot ``t < k``, ``m`` agent draws (action ``~ pi_l``, then a
    reward); an entry uses the slots its agents occupy, so each entry averages i.i.d.
    draws with mean ``r_Delta``.
    """
    S, A, L, A_l, k = game.num_sg, game.num_ag, game.num_sl, game.num_al, space.k
    rg = np.array(
        [[sampler.sample_global(game, s, a, rng, m).mean() for a in range(A)] for s in range(S)]
    )
    # slot_mean[s, i, t] = mean over the m draws of the reward of slot t of source i
    slot_mean = np.empty((S, L, k))
    for s in range(S):
        for i in range(L):
            acts = rng.choice(A_l, size=(m, k), p=local_probs[i, s])
            draws = np.empty((m, k))
            for a in range(A_l):
                mask = acts == a
                draws[mask] = sampler.sample_local(game, i, s, a, rng, int(mask.sum()))
            slot_mean[s, i] = draws.mean(axis=0)
    if isinstance(space, CountSpace):
        prefix = np.concatenate([np.zeros((S, L, 1)), np.cumsum(slot_mean, axis=2)], axis=2)
        counts = space.all()  # [X, L]
        local = prefix[:, np.arange(L), counts].sum(axis=-1) / k  # [S, X]
    else:
        tuples = space.all()  # [X, k]
        local = slot_mean[:, tuples, np.arange(k)].sum(axis=-1) / k  # [S, X]
    return rg[:, None, :] + local[:, :, None]


def empirical_adapted_bellman(
    game: TabularGame,
    local_policy: LocalPolicy,
    k: int,
    m: int = DEFAULT_M,
    *,
    parameterization: Parameterization = "mean-field",
    seed: int | np.random.Generator = 0,
    sampling: Sampling = "common",
    reward_sampler: RewardSampler | None = None,
) -> AdaptedOperator:
    """The empirical adapted Bellman operator ``That_{k,m}`` (SPEC §3), samples drawn once.

    Returns an :class:`AdaptedOperator` with ``next_index[s_g, x, j]``, the ``j``-th sampled
    next local part of ``(s_g, x)``. With ``reward_sampler``, the reward is the mean of
    ``m`` sampled rewards per entry (Appendix F, Definition F.2).
    """
    k = _check_k(k)
    m = _check_m(m)
    if m is None:
        raise AltmarlError("m = None is the exact operator: call exact_adapted_bellman")
    if sampling not in SAMPLING_SCHEMES:
        raise AltmarlError(f"sampling {sampling!r} must be one of {SAMPLING_SCHEMES}")
    if reward_sampler is not None:
        check_reward_sampler(reward_sampler)
    space = _space(k, game.num_sl, parameterization)
    S, A = game.num_sg, game.num_ag
    _require(space.size * S * (A * 8 * 3 + m * 4), "the Q table and sampled next states", space, k)
    if space.size >= 2**31:
        raise MemoryBudgetError(
            f"k = {k}: |X| = {space.size} inputs exceed the int32 sample indices; lower k"
        )
    p_bar, r_bar = _local_part(game, local_policy)
    rng = _rng(seed)
    rng_next, rng_reward = rng.spawn(2)
    if isinstance(space, CountSpace):
        if sampling == "common":
            nxt = _sample_mean_field_common(space, p_bar, m, rng_next)
        else:
            nxt = _sample_mean_field_independent(space, p_bar, m, rng_next)
    else:
        nxt = _sample_standard(space, p_bar, m, rng_next, sampling)
    if reward_sampler is None:
        reward = surrogate_reward(game, r_bar, space)
    else:
        probs = local_policy.probs if isinstance(local_policy, LocalPolicy) else local_policy
        reward = _sampled_reward(game, np.asarray(probs), space, m, reward_sampler, rng_reward)
    return AdaptedOperator(
        reward=np.ascontiguousarray(reward),
        p_g=np.ascontiguousarray(game.P_g),
        gamma=game.gamma,
        k=k,
        parameterization=parameterization,
        space=space,
        next_index=nxt,
        samples=S * space.size * m,
    )


# ------------------------------------------------------------------------- exact operator


def _exact_count_transition(p_bar_s: np.ndarray, k: int) -> np.ndarray:
    """``M[c, c'] = P(c' | c)`` over ``C_k`` for ``c' = sum_i Multinomial(c_i, p_bar_s[i])``.

    Built by adding one agent at a time: the law for ``c`` is the law for ``c - e_i``
    (``i`` its first occupied bin) convolved with one draw from ``p_bar_s[i]``.
    """
    L = p_bar_s.shape[0]
    eye = np.eye(L, dtype=np.int64)
    M = np.ones((1, 1))
    prev = CountSpace(0, L)
    for n in range(1, k + 1):
        cur = CountSpace(n, L)
        cur_all = cur.all()
        first = np.argmax(cur_all > 0, axis=1)
        parent = prev.rank(cur_all - eye[first])
        up = cur.rank(prev.all()[:, None, :] + eye[None, :, :])  # [|C_{n-1}|, L]
        X = M[parent]  # [|C_n|, |C_{n-1}|]
        Mn = np.zeros((cur.size, cur.size))
        for l in range(L):
            # up[:, l] is injective, so a fancy-indexed += adds every column once
            Mn[:, up[:, l]] += p_bar_s[first, l][:, None] * X
        M, prev = Mn, cur
    return M


def exact_adapted_bellman(
    game: TabularGame,
    local_policy: LocalPolicy,
    k: int,
    *,
    parameterization: Parameterization = "mean-field",
) -> AdaptedOperator:
    """The adapted Bellman operator ``T_k`` with its exact expectation (``m = None``, SPEC §3).

    Mean-field: ``transition[s_g, c, c']`` is the convolution of the per-bin multinomials
    ``Multinomial(c_i, Pbar_l(.|i, s_g))``. Standard: the product law
    ``prod_p Pbar_l(x'_p | x_p, s_g)`` (a Kronecker power). Dense, so small ``k`` only.
    """
    k = _check_k(k)
    space = _space(k, game.num_sl, parameterization)
    S = game.num_sg
    _require(S * space.size * space.size * 8 * 2, "the exact transition tables", space, k)
    p_bar, r_bar = _local_part(game, local_policy)
    trans = np.empty((S, space.size, space.size))
    for s in range(S):
        if isinstance(space, CountSpace):
            trans[s] = _exact_count_transition(p_bar[:, s, :], k)
        else:
            M = np.ones((1, 1))
            for _ in range(k):
                M = np.kron(M, p_bar[:, s, :])
            trans[s] = M
    return AdaptedOperator(
        reward=np.ascontiguousarray(surrogate_reward(game, r_bar, space)),
        p_g=np.ascontiguousarray(game.P_g),
        gamma=game.gamma,
        k=k,
        parameterization=parameterization,
        space=space,
        transition=trans,
    )


# ------------------------------------------------------------------------ value iteration


@numba.njit(parallel=True, cache=True)
def _sweep_sampled(
    next_index, reward, p_g, gamma, vt, q, vt_out, lo, hi, write_q
):  # pragma: no cover
    """One sweep of ``That_{k,m}`` on ``V``: ``q <- r + gamma P_g mean_j V[s', next]`` in place.

    next_index [S, X, m]; reward, q [S, X, A]; p_g [S, A, S]; vt, vt_out [X, W] hold
    ``V[s', x']`` transposed so that one gather reads all ``s'`` at once, padded with zero
    columns to a width ``W`` that is a multiple of 8: the gather loop then runs over
    blocks of a literal 8 (one 64-byte cache line), which LLVM vectorizes; about 1.4x
    faster than a loop over ``S`` at ``|S_g| = 5``. ``vt_out`` gets ``max_a q``.
    With ``write_q`` False, ``q`` is left alone (the span rule needs only ``V``).
    Per chunk ``b``: ``lo[b, 0]``/``hi[b, 0]`` are min/max of ``q_new - q_old``,
    ``lo[b, 1]``/``hi[b, 1]`` min/max of ``vt_out - vt``.
    """
    S, X, m = next_index.shape
    A = reward.shape[2]
    nchunk = lo.shape[0]
    chunk = (X + nchunk - 1) // nchunk
    scale = gamma / m
    blocks = vt.shape[1] // 8
    for b in numba.prange(nchunk):
        start = b * chunk
        stop = min(X, start + chunk)
        # a literal-sized accumulator stays in registers (1.2-1.4x faster than one of
        # run-time width); wider V rows are summed one 8-column block at a time
        acc = np.empty(8)
        tot = np.empty(A)
        qlo = np.inf
        qhi = -np.inf
        vlo = np.inf
        vhi = -np.inf
        for x in range(start, stop):
            for s in range(S):
                tot[:] = 0.0
                for blk in range(blocks):
                    c0 = 8 * blk
                    acc[:] = 0.0
                    for j in range(m):
                        r = next_index[s, x, j]
                        for t in range(8):
                            acc[t] += vt[r, c0 + t]
                    for a in range(A):
                        for t in range(min(8, S - c0)):
                            tot[a] += p_g[s, a, c0 + t] * acc[t]
                best = -np.inf
                for a in range(A):
                    val = reward[s, x, a] + scale * tot[a]
                    if write_q:
                        d = val - q[s, x, a]
                        qlo = min(qlo, d)
                        qhi = max(qhi, d)
                        q[s, x, a] = val
                    best = max(best, val)
                vt_out[x, s] = best
                d = best - vt[x, s]
                vlo = min(vlo, d)
                vhi = max(vhi, d)
        lo[b, 0] = qlo
        hi[b, 0] = qhi
        lo[b, 1] = vlo
        hi[b, 1] = vhi


class _Sweeper:
    """``V -> (G(V), Q(V))`` for an operator: ``Q(V) = r + gamma P_g E[V(next)]``,
    ``G(V) = max_a Q(V)``. Holds the buffers; ``V`` is stored transposed ``[X, S]``."""

    def __init__(self, op: AdaptedOperator, q: np.ndarray) -> None:
        self.op = op
        self.q = q
        self.sampled = op.next_index is not None
        nchunk = max(1, min(q.shape[1], 64 * numba.get_num_threads()))
        self.lo = np.empty((nchunk, 2))
        self.hi = np.empty((nchunk, 2))
        if self.sampled:
            S, X = q.shape[0], q.shape[1]
            width = -(-S // 8) * 8  # see _sweep_sampled: padded, cache-line-sized rows
            self.pad_in = np.zeros((X, width))
            self.pad_out = np.zeros((X, width))

    def __call__(
        self, vt: np.ndarray, vt_out: np.ndarray, write_q: bool = True
    ) -> tuple[float, float, float, float]:
        """Writes ``G(V)`` into ``vt_out`` and, with ``write_q``, ``Q(V)`` into ``self.q``;
        returns min/max of ``Q_new - Q_old`` (0 without ``write_q``) and of ``G(V) - V``."""
        op = self.op
        if self.sampled:
            S = vt.shape[1]
            self.pad_in[:, :S] = vt
            _sweep_sampled(
                op.next_index,
                op.reward,
                op.p_g,
                op.gamma,
                self.pad_in,
                self.q,
                self.pad_out,
                self.lo,
                self.hi,
                write_q,
            )
            vt_out[...] = self.pad_out[:, :S]
            lo, hi = self.lo.min(axis=0), self.hi.max(axis=0)
            if not write_q:
                return 0.0, 0.0, float(lo[1]), float(hi[1])
            return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])
        w = op.expected_next_value(vt.T)
        q_new = op.reward + op.gamma * np.einsum("sxt,sat->sxa", w, op.p_g)
        dq = q_new - self.q
        self.q[...] = q_new
        vt_out[...] = q_new.max(axis=-1).T
        dv = vt_out - vt
        return float(dq.min()), float(dq.max()), float(dv.min()), float(dv.max())


def value_iteration(
    op: AdaptedOperator,
    *,
    tol: float = 1e-6,
    q0: np.ndarray | None = None,
    max_iterations: int = 100_000,
    stopping: Stopping = "span",
    anderson: int = 5,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Iterate ``Q <- T Q`` (``op``) from ``q0`` (default 0) to the fixed point (SPEC §3).

    Stopping rules, with ``beta = gamma / (1-gamma)``:

    * ``"residual"`` (the SPEC's rule): plain value iteration, stop when
      ``||Q_{t+1} - Q_t||_inf <= tol``; the returned ``Q_{t+1}`` is within ``beta tol``
      of the fixed point (reported as ``error_bound``).
    * ``"certified"``: plain value iteration, stop when ``beta ||Q_{t+1} - Q_t||_inf <= tol``.
    * ``"span"`` (default; MacQueen's bounds): iterate on ``V = max_a Q`` with
      ``G(V) = max_a (r + gamma P_g E V(next))``, monotone with
      ``G(V + c) = G(V) + gamma c``. For ANY ``V``, with ``D = G(V) - V``, the fixed point
      satisfies ``G(V) + beta min D <= V* <= G(V) + beta max D`` entrywise. So
      ``V' = G(V) + beta (max D + min D)/2`` is within ``e = beta (max D - min D)/2`` of
      ``V*`` and ``Q' = r + gamma P_g E V'(next)`` within ``gamma e`` of ``Qhat``; stop
      when ``gamma e <= tol``. Because the certificate holds for any ``V``, the iterates
      may be accelerated: ``anderson > 0`` applies Anderson mixing of that depth
      (safeguarded: the history restarts whenever the span of ``D`` grows). The span
      also ignores the slowest, constant mode, so this stops many times sooner than the
      residual rule at the same certified accuracy. ``anderson=0`` gives plain value
      iteration with this stopping rule.

    Returns ``(q, info)`` with ``iterations`` (Bellman sweeps, including the final one
    that forms ``Q'``), ``residual`` (``||Q_{t+1} - Q_t||_inf`` of the last sweep; for the
    span rule ``||G(V') - V'||_inf``), ``error_bound`` (certified bound on
    ``||q - Qhat||_inf``) and ``converged``.
    """
    if not (tol > 0 and math.isfinite(tol)):
        raise AltmarlError(f"tol = {tol} must be a finite number > 0")
    if stopping not in STOPPING_RULES:
        raise AltmarlError(f"stopping {stopping!r} must be one of {STOPPING_RULES}")
    if int(max_iterations) != max_iterations or max_iterations < 1:
        raise AltmarlError(f"max_iterations = {max_iterations} must be an integer >= 1")
    if int(anderson) != anderson or anderson < 0:
        raise AltmarlError(f"anderson = {anderson} must be an integer >= 0")
    shape = op.shape
    if q0 is None:
        q = np.zeros(shape)
    else:
        q = np.array(q0, dtype=np.float64)
        if q.shape != shape:
            raise AltmarlError(f"q0 must have shape {shape} (S_g, |X|, A_g), got {q.shape}")
        if not np.isfinite(q).all():
            raise AltmarlError("q0 has non-finite entries")
    beta = op.gamma / (1.0 - op.gamma)
    sweep = _Sweeper(op, q)
    vt = np.ascontiguousarray(q.max(axis=-1).T)
    vt_out = np.empty_like(vt)
    it = 0
    converged = False
    residual = bound = np.inf
    if stopping != "span":
        while it < max_iterations:
            it += 1
            q_lo, q_hi, _, _ = sweep(vt, vt_out)
            vt, vt_out = vt_out, vt
            residual = max(abs(q_lo), abs(q_hi))
            bound = beta * residual
            converged = (residual if stopping == "residual" else bound) <= tol
            if converged:
                break
        return q, {
            "iterations": it,
            "residual": residual,
            "error_bound": bound,
            "converged": converged,
        }
    accel = _Anderson(anderson, vt.size)
    best_span = np.inf
    resets = 0
    while it < max_iterations:
        it += 1
        # Q is needed only from V' (below), so the sweeps skip writing it
        _, _, d_lo, d_hi = sweep(vt, vt_out, write_q=False)
        span = d_hi - d_lo
        bound = op.gamma * beta * span / 2.0
        shift = beta * (d_hi + d_lo) / 2.0
        if bound <= tol or it >= max_iterations:
            converged = bound <= tol
            # V' = G(V) + beta * mid(D); one more sweep turns it into Q'
            vt_out += shift
            _, _, r_lo, r_hi = sweep(vt_out, vt)
            residual = max(abs(r_lo), abs(r_hi))
            it += 1
            break
        if span > best_span:
            resets += 1
            # mixing that keeps failing is switched off: plain value iteration converges
            accel.reset(disable=resets > _MAX_ANDERSON_RESETS)
        best_span = min(best_span, span)
        accel.step(vt.ravel(), vt_out.ravel(), out=vt.ravel())
    return q, {"iterations": it, "residual": residual, "error_bound": bound, "converged": converged}


_MAX_ANDERSON_RESETS = 20


class _Anderson:
    """Type-II Anderson mixing for ``x <- g(x)`` (Walker & Ni 2011), depth ``depth``.

    Ring buffers of residual and image differences and an incrementally updated Gram
    matrix keep a step at ``O(depth N)`` without reallocating ``N``-vectors.
    """

    def __init__(self, depth: int, size: int) -> None:
        self.depth = depth
        self.size = size
        self.df = np.empty((depth, size)) if depth else np.empty((0, size))
        self.dg = np.empty_like(self.df)
        self.gram = np.zeros((depth, depth))
        self.f_prev = np.empty(size)
        self.g_prev = np.empty(size)
        self.f = np.empty(size)
        self.count = 0  # columns filled
        self.pos = 0  # next column to overwrite
        self.has_prev = False

    def reset(self, disable: bool = False) -> None:
        if disable:
            self.depth = 0
        self.count = self.pos = 0
        self.has_prev = False

    def step(self, x: np.ndarray, g: np.ndarray, out: np.ndarray) -> None:
        """Write the next iterate into ``out`` (may alias ``x``, not ``g``)."""
        if self.depth == 0:
            out[...] = g
            return
        f = self.f
        np.subtract(g, x, out=f)
        # The span certificate ignores constant shifts, so the residual is centred:
        # mixing then targets the non-constant modes only.
        f -= f.mean()
        if self.has_prev:
            i = self.pos
            np.subtract(f, self.f_prev, out=self.df[i])
            np.subtract(g, self.g_prev, out=self.dg[i])
            self.count = min(self.count + 1, self.depth)
            self.pos = (i + 1) % self.depth
            row = self.df[: self.count] @ self.df[i]
            self.gram[i, : self.count] = row
            self.gram[: self.count, i] = row
        self.f_prev[...] = f
        self.g_prev[...] = g
        self.has_prev = True
        if self.count == 0:
            out[...] = g
            return
        n = self.count
        gram = self.gram[:n, :n]
        # a small ridge keeps the normal equations solvable when the history is degenerate
        ridge = 1e-12 * max(1.0, float(np.trace(gram)))
        coef = np.linalg.solve(gram + ridge * np.eye(n), self.df[:n] @ f)
        np.subtract(g, coef @ self.dg[:n], out=out)


def greedy_policy(
    q: np.ndarray,
    rng: np.random.Generator | int = 0,
    *,
    tie_tol: float = 1e-9,
) -> np.ndarray:
    """``pihat(s_g, x) = argmax_a Q(s_g, x, a)``, ties broken uniformly at random (eq. 20).

    Actions within ``tie_tol`` of the maximum count as tied (floating-point noise on
    exactly equal values); the choice among them is drawn from ``rng``, so it is
    reproducible. ``q: [S_g, |X|, A_g]`` -> int ``[S_g, |X|]``.
    """
    rng = _rng(rng)
    best = q.max(axis=-1, keepdims=True)
    tied = q >= best - tie_tol
    table = np.argmax(tied, axis=-1)
    multi = tied.sum(axis=-1) > 1
    if multi.any():
        keys = rng.random((int(multi.sum()), q.shape[-1]))
        keys[~tied[multi]] = -1.0
        table[multi] = np.argmax(keys, axis=-1)
    return table.astype(np.int64)


# ================================================================================ G-LEARN


def glearn(
    game: TabularGame,
    local_policy: LocalPolicy,
    k: int,
    *,
    m: int | None = DEFAULT_M,
    parameterization: Parameterization = "mean-field",
    tol: float = 1e-6,
    q0: np.ndarray | None = None,
    seed: int | np.random.Generator = 0,
    max_iterations: int = 100_000,
    stopping: Stopping = "span",
    anderson: int = 5,
    sampling: Sampling = "common",
    reward_sampler: RewardSampler | None = None,
) -> GLearnResult:
    """G-LEARN (SPEC §3): the global best response to ``local_policy`` seeing ``k`` agents.

    Builds ``That_{k,m}`` (or ``T_k`` when ``m is None``), runs :func:`value_iteration`
    from ``q0`` (default 0) to ``tol`` and returns the greedy policy (eq. 20).
    ``seed`` feeds two independent streams: the operator's samples and the tie-breaking.
    See :func:`value_iteration` for ``stopping`` and ``anderson``,
    :func:`empirical_adapted_bellman` for
    ``sampling`` and ``reward_sampler`` (stochastic rewards, Appendix F; ignored by the
    exact operator, whose reward is the mean).
    """
    t0 = time.perf_counter()
    k = _check_k(k)
    m = _check_m(m)
    rng = _rng(seed)
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
    )
    return GLearnResult(q=q, policy=policy, info=info)


@dataclass(frozen=True)
class GLearnOracle:
    """G-LEARN as a :class:`GlobalOracle` (configuration only; results are returned)."""

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
        seed: int | np.random.Generator = 0,
        q0: np.ndarray | None = None,
    ) -> GLearnResult:
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
