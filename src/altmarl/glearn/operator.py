"""The adapted Bellman operators of G-LEARN (SPEC §3), held as arrays.

Fix ``pi_l``. The surrogate system has exactly ``k`` local agents ``Delta``; its adapted
Bellman operator is

    T_k Q(s_g, x, a_g) = r_Delta(s_g, x, a_g) + gamma E[ max_a' Q(s_g', x', a') ],
    r_Delta(s_g, x, a_g) = r_g(s_g, a_g) + (1/k) sum_{i in Delta} rbar_l(s_i, s_g),

where ``x`` is the ordered ``k``-tuple ``s_Delta`` (standard parameterization, ``|S_l|^k``
inputs, :class:`~altmarl.counts.TupleSpace` order) or its count vector ``c`` (mean-field
parameterization, ``|C_k|`` inputs, :class:`~altmarl.counts.CountSpace` rank order),
``s_g' ~ P_g(.|s_g, a_g)`` and every agent moves independently by ``Pbar_l(.|s_i, s_g)``.

* :func:`empirical_adapted_bellman` -- ``That_{k,m}``: the expectation over the local
  part replaced by the mean of ``m`` samples per ``(s_g, x)``, drawn ONCE and then held
  fixed (:mod:`altmarl.glearn.sampling`), so ``That_{k,m}`` is a ``gamma``-contraction
  with a unique fixed point ``Qhat_{k,m}``. The next local part does not depend on
  ``a_g``, so one set of ``m`` samples per ``(s_g, x)`` serves every action; the next
  GLOBAL state is integrated exactly against ``P_g(.|s_g, a_g)`` instead of sampled (a
  conditional expectation of the SPEC's sample mean: it only lowers the variance, and
  Hoeffding's range, hence Lemma 4.3's bound, is unchanged).
* :func:`exact_adapted_bellman` -- ``T_k`` itself (``m = None``): mean-field, the next
  count law is the convolution of the per-bin multinomials, computed exactly; standard,
  the product law over tuples (a Kronecker product). Dense ``[|X|, |X|]`` per ``s_g``,
  for small ``k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from altmarl.counts import CountSpace, TupleSpace, check_k
from altmarl.errors import AltmarlError, MemoryBudgetError
from altmarl.game import TabularGame
from altmarl.glearn.sampling import (
    SAMPLING_SCHEMES,
    Sampling,
    sample_mean_field_common,
    sample_mean_field_independent,
    sample_standard,
    sampled_reward,
)
from altmarl.memory import check_memory
from altmarl.policies import PARAMETERIZATIONS, LocalPolicy, Parameterization
from altmarl.rewards import RewardSampler, check_reward_sampler
from altmarl.seeding import Seed, as_generator

#: Default number of samples per (s_g, x), as in the warehouse experiment (SPEC §7).
DEFAULT_M = 30


def operator_space(k: int, num_local_states: int, parameterization: str) -> CountSpace | TupleSpace:
    if parameterization == "mean-field":
        return CountSpace(k, num_local_states)
    if parameterization == "standard":
        return TupleSpace(k, num_local_states)
    raise AltmarlError(f"parameterization {parameterization!r} must be one of {PARAMETERIZATIONS}")


def check_m(m: int | None) -> int | None:
    if m is None:
        return None
    if isinstance(m, bool) or int(m) != m or m < 1:
        raise AltmarlError(f"m = {m} must be an integer >= 1 (samples per entry) or None (exact)")
    return int(m)


def glearn_bytes(
    game: TabularGame, k: int, m: int | None, parameterization: str, anderson: int = 5
) -> int:
    """Bytes G-LEARN holds at once for ``k``: the reward and Q tables, value iteration's
    iterates (``2 anderson + 3`` Q-sized vectors) and the sampled next states (int32,
    ``m`` per entry) or, for the exact operator, the dense transition tables."""
    space = operator_space(k, game.num_sl, parameterization)
    S, A, X = game.num_sg, game.num_ag, space.size
    q_tables = S * X * A * 8 * (2 * anderson + 4)
    return q_tables + (S * X * X * 8 * 2 if m is None else S * X * m * 4)


def _require(nbytes: int, what: str, space: CountSpace | TupleSpace, k: int) -> None:
    check_memory(
        int(nbytes),
        f"{what} (k={k}, |X|={space.size})",
        hint="lower k or m, or use the mean-field parameterization",
    )


def local_part(game: TabularGame, local_policy: LocalPolicy) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(local_policy, LocalPolicy):
        local_policy = LocalPolicy(np.asarray(local_policy))
    local_policy.check_game(game.num_sl, game.num_sg, game.num_al)
    return game.averaged_local(local_policy.probs)


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
        S, X, A = self.reward.shape
        return int(S), int(X), int(A)

    def expected_next_value(self, v: np.ndarray) -> np.ndarray:
        """``W[s_g, x, s_g'] = E or mean over the local part of V[s_g', x']``; ``v: [S_g, |X|]``."""
        if self.transition is not None:
            return np.asarray(np.einsum("sxy,ty->sxt", self.transition, v))
        assert self.next_index is not None
        vt = np.ascontiguousarray(v.T)
        return np.asarray(vt[self.next_index].mean(axis=2))

    def apply(self, q: np.ndarray) -> np.ndarray:
        """``T Q`` for ``q: [S_g, |X|, A_g]`` (a plain, allocation-heavy reference route)."""
        w = self.expected_next_value(q.max(axis=-1))
        return np.asarray(self.reward + self.gamma * np.einsum("sxt,sat->sxa", w, self.p_g))


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
    return np.asarray(game.r_g[:, None, :] + local.T[:, :, None])


def empirical_adapted_bellman(
    game: TabularGame,
    local_policy: LocalPolicy,
    k: int,
    m: int = DEFAULT_M,
    *,
    parameterization: Parameterization = "mean-field",
    seed: Seed = 0,
    sampling: Sampling = "common",
    reward_sampler: RewardSampler | None = None,
) -> AdaptedOperator:
    """The empirical adapted Bellman operator ``That_{k,m}`` (SPEC §3), samples drawn once.

    Returns an :class:`AdaptedOperator` with ``next_index[s_g, x, j]``, the ``j``-th sampled
    next local part of ``(s_g, x)``. With ``reward_sampler``, the reward is the mean of
    ``m`` sampled rewards per entry (Appendix F, Definition F.2).
    """
    k = check_k(k)
    m_checked = check_m(m)
    if m_checked is None:
        raise AltmarlError("m = None is the exact operator: call exact_adapted_bellman")
    m = m_checked
    if sampling not in SAMPLING_SCHEMES:
        raise AltmarlError(f"sampling {sampling!r} must be one of {SAMPLING_SCHEMES}")
    if reward_sampler is not None:
        check_reward_sampler(reward_sampler)
    space = operator_space(k, game.num_sl, parameterization)
    S, A = game.num_sg, game.num_ag
    _require(space.size * S * (A * 8 * 3 + m * 4), "the Q table and sampled next states", space, k)
    if space.size >= 2**31:
        raise MemoryBudgetError(
            f"k = {k}: |X| = {space.size} inputs exceed the int32 sample indices; lower k"
        )
    p_bar, r_bar = local_part(game, local_policy)
    rng = as_generator(seed)
    rng_next, rng_reward = rng.spawn(2)
    if isinstance(space, CountSpace):
        if sampling == "common":
            nxt = sample_mean_field_common(space, p_bar, m, rng_next)
        else:
            nxt = sample_mean_field_independent(space, p_bar, m, rng_next)
    else:
        nxt = sample_standard(space, p_bar, m, rng_next, sampling)
    if reward_sampler is None:
        reward = surrogate_reward(game, r_bar, space)
    else:
        probs = local_policy.probs if isinstance(local_policy, LocalPolicy) else local_policy
        reward = sampled_reward(game, np.asarray(probs), space, m, reward_sampler, rng_reward)
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
    k = check_k(k)
    space = operator_space(k, game.num_sl, parameterization)
    S = game.num_sg
    _require(S * space.size * space.size * 8 * 2, "the exact transition tables", space, k)
    p_bar, r_bar = local_part(game, local_policy)
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
