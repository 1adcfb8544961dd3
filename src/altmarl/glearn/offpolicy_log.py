"""The log of off-policy G-LEARN (Appendix E): one behaviour-policy trajectory of the
``n``-agent system, seen through ``k``-subsamples (:mod:`altmarl.glearn.offpolicy` learns
from it).

A behaviour policy ``b(a_g | s_g, c)`` with full support (Assumption E.1) runs the system
once (:func:`log_trajectory`); each logged transition follows the SAME subsample one step,
so that given ``z_t`` and ``a_t`` it has exactly the law of ``T_k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from altmarl.counts import CountSpace, binom_table, check_k, rank_count
from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.glearn.operator import local_part
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.rewards import RewardSampler, check_reward_sampler


@dataclass(frozen=True, eq=False)
class LoggedTrajectory:
    """One behaviour-policy trajectory of the ``n``-agent system, seen through ``k``-subsamples.

    Arrays of length ``T``: ``s_g``, ``c`` (count rank of ``Delta_t``), ``a_g``, ``reward``
    (``r_Delta`` of the step), ``next_s_g``, ``next_c`` (count rank of ``Delta_t`` at
    ``t+1``). ``k`` and ``n`` as used.
    """

    s_g: np.ndarray
    c: np.ndarray
    a_g: np.ndarray
    reward: np.ndarray
    next_s_g: np.ndarray
    next_c: np.ndarray
    k: int
    n: int

    def __len__(self) -> int:
        return int(self.s_g.shape[0])


def uniform_behaviour(game: TabularGame, k: int) -> np.ndarray:
    """The uniformly random behaviour policy, ``[S_g, |C_k|, A_g]``."""
    size = CountSpace(k, game.num_sl).size
    return np.full((game.num_sg, size, game.num_ag), 1.0 / game.num_ag)


def epsilon_greedy_behaviour(policy: GlobalPolicy, epsilon: float) -> np.ndarray:
    """``(1 - epsilon) pi_g + epsilon * uniform`` as ``[S_g, |C_k|, A_g]`` (full support if
    ``epsilon > 0``); ``policy`` is mean-field."""
    if not 0.0 < epsilon <= 1.0:
        raise AltmarlError(f"epsilon = {epsilon} must lie in (0, 1] for full support")
    pol = policy.to_mean_field()
    A = pol.num_actions
    probs = np.full((*pol.table.shape, A), epsilon / A)
    np.put_along_axis(probs, pol.table[..., None], 1.0 - epsilon + epsilon / A, axis=-1)
    return probs


def _check_behaviour(behaviour: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    b = np.asarray(behaviour, dtype=np.float64)
    if b.shape != shape:
        raise AltmarlError(f"behaviour must have shape [S_g, |C_k|, A_g] = {shape}, got {b.shape}")
    if not np.isfinite(b).all() or (b < 0).any():
        raise AltmarlError("behaviour probabilities must be finite and >= 0")
    sums = b.sum(-1)
    if np.abs(sums - 1).max() > 1e-9:
        idx = tuple(int(i) for i in np.argwhere(np.abs(sums - 1) > 1e-9)[0])
        raise AltmarlError(f"behaviour[{idx[0]}, {idx[1]}, :] sums to {sums[idx]:.12g}, not 1")
    zero = b <= 0
    if zero.any():
        s, c, a = (int(i) for i in np.argwhere(zero)[0])
        raise AltmarlError(
            f"behaviour must cover every action (Assumption E.1: b(a|z) > 0): "
            f"behaviour[{s}, {c}, {a}] = 0 ({int(zero.sum())} zero entries); mix in "
            "exploration, e.g. epsilon_greedy_behaviour"
        )
    return b


@numba.njit(cache=True)
def _multinomial(n: int, p: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``out += Multinomial(n, p)`` by sequential binomials (numba's seeded RNG)."""
    rest = 1.0
    left = n
    L = p.shape[0]
    for i in range(L - 1):
        if left <= 0:
            break
        pi = p[i] / rest if rest > 0 else 0.0
        pi = min(max(pi, 0.0), 1.0)
        d = np.random.binomial(left, pi)  # noqa: NPY002 (numba's stream, seeded below)
        out[i] += d
        left -= d
        rest -= p[i]
    if left > 0:
        out[L - 1] += left


@numba.njit(cache=True)
def _simulate(
    seed: int,
    steps: int,
    k: int,
    p_g: np.ndarray,
    p_l: np.ndarray,
    r_g: np.ndarray,
    r_l: np.ndarray,
    pi_l: np.ndarray,
    p_bar: np.ndarray,
    behaviour_cdf: np.ndarray,
    binom: np.ndarray,
    init_s_g: np.ndarray,
    init_counts: np.ndarray,
    reset_every: int,
    group_log: np.ndarray,
    log_groups: bool,
) -> tuple[np.ndarray, ...]:  # pragma: no cover
    """Count-based ``n``-agent trajectory under the behaviour policy (SPEC §6 dynamics).

    Kept whole on purpose: one step reads top to bottom in the exact order of its random
    draws (subsample, ``a_g``, subsample moves, the others' moves, ``s_g'``), which fixes the
    seeded stream, and splitting it into ``@njit`` helpers measured 3-10% slower.
    """
    np.random.seed(seed)  # noqa: NPY002 (numba's own stream, seeded from a Generator)
    S_l = p_l.shape[0]
    A_l = p_l.shape[2]
    out_s = np.empty(steps, np.int64)
    out_c = np.empty(steps, np.int64)
    out_a = np.empty(steps, np.int64)
    out_r = np.empty(steps)
    out_s2 = np.empty(steps, np.int64)
    out_c2 = np.empty(steps, np.int64)
    pop = np.empty(S_l, np.int64)
    sub = np.empty(S_l, np.int64)
    sub_next = np.empty(S_l, np.int64)
    rest_next = np.empty(S_l, np.int64)
    acts = np.empty(A_l, np.int64)
    episode = 0
    s_g = 0
    for t in range(steps):
        if t % reset_every == 0:
            s_g = init_s_g[episode]
            pop[:] = init_counts[episode]
            episode += 1
        # Delta_t: k of the n agents without replacement (multivariate hypergeometric)
        left_pop = pop.sum()
        need = k
        for i in range(S_l):
            if need == 0 or left_pop == pop[i]:
                d = need if left_pop == pop[i] else 0
            else:
                d = np.random.hypergeometric(pop[i], left_pop - pop[i], need)  # noqa: NPY002
            sub[i] = d
            need -= d
            left_pop -= pop[i]
        rank = rank_count(sub, binom)
        u = np.random.random()  # noqa: NPY002
        a_g = 0
        A_g = behaviour_cdf.shape[2]
        while a_g < A_g - 1 and u >= behaviour_cdf[s_g, rank, a_g]:
            a_g += 1
        # the subsample's agents act by pi_l and move by P_l; their rewards are logged
        sub_next[:] = 0
        local = 0.0
        for i in range(S_l):
            if sub[i] == 0:
                continue
            acts[:] = 0
            _multinomial(sub[i], pi_l[i, s_g], acts)
            for a in range(A_l):
                if acts[a] > 0:
                    local += acts[a] * r_l[i, s_g, a]
                    _multinomial(acts[a], p_l[i, s_g, a], sub_next)
                    if log_groups:
                        group_log[t, i, a] = acts[a]
        # the other n - k agents: only their next states matter
        rest_next[:] = 0
        for i in range(S_l):
            m_i = pop[i] - sub[i]
            if m_i > 0:
                _multinomial(m_i, p_bar[i, s_g], rest_next)
        u = np.random.random()  # noqa: NPY002
        s2 = 0
        acc = p_g[s_g, a_g, 0]
        while s2 < p_g.shape[2] - 1 and u >= acc:
            s2 += 1
            acc += p_g[s_g, a_g, s2]
        out_s[t] = s_g
        out_c[t] = rank
        out_a[t] = a_g
        out_r[t] = r_g[s_g, a_g] + local / k
        out_s2[t] = s2
        out_c2[t] = rank_count(sub_next, binom)
        for i in range(S_l):
            pop[i] = sub_next[i] + rest_next[i]
        s_g = s2
    return out_s, out_c, out_a, out_r, out_s2, out_c2


def log_trajectory(
    game: TabularGame,
    local_policy: LocalPolicy,
    k: int,
    n: int,
    *,
    steps: int,
    behaviour: np.ndarray | None = None,
    seed: int | np.random.Generator = 0,
    reset_every: int | None = None,
    reward_sampler: RewardSampler | None = None,
) -> LoggedTrajectory:
    """Run the ``n``-agent system ``steps`` steps under ``behaviour`` and log ``k``-subsamples.

    ``behaviour``: ``[S_g, |C_k|, A_g]`` probabilities with full support (default uniform).
    The system restarts from the game's initial distribution every ``reset_every`` steps
    (default: never). With ``reward_sampler`` the logged rewards are draws (Appendix F).
    """
    k = check_k(k)
    if int(n) != n or n < k:
        raise AltmarlError(f"n = {n} must be an integer >= k = {k}")
    if int(steps) != steps or steps < 1:
        raise AltmarlError(f"steps = {steps} must be an integer >= 1")
    reset_every = int(steps) if reset_every is None else int(reset_every)
    if reset_every < 1:
        raise AltmarlError(f"reset_every = {reset_every} must be >= 1")
    space = CountSpace(k, game.num_sl)
    space.require_table(game.num_sg * game.num_ag, 8, "the behaviour policy")
    shape = (game.num_sg, space.size, game.num_ag)
    b = uniform_behaviour(game, k) if behaviour is None else _check_behaviour(behaviour, shape)
    if reward_sampler is not None:
        check_reward_sampler(reward_sampler)
    if not isinstance(local_policy, LocalPolicy):
        local_policy = LocalPolicy(np.asarray(local_policy))
    p_bar, _ = local_part(game, local_policy)
    pi_l = np.ascontiguousarray(local_policy.probs)
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    episodes = -(-int(steps) // reset_every)
    init_s_g = game.sample_global_states(rng, episodes)
    dists = game.sample_local_distributions(rng, episodes)
    init_counts = np.array([rng.multinomial(n, d) for d in dists], dtype=np.int64)
    binom = binom_table(k, game.num_sl)
    cdf = np.cumsum(b, axis=-1)
    log_groups = reward_sampler is not None
    group_log = np.zeros(
        (int(steps) if log_groups else 1, game.num_sl, game.num_al), dtype=np.int32
    )
    s, c, a, r, s2, c2 = _simulate(
        int(rng.integers(2**31 - 1)),
        int(steps),
        k,
        np.ascontiguousarray(game.P_g),
        np.ascontiguousarray(game.P_l),
        np.ascontiguousarray(game.r_g),
        np.ascontiguousarray(game.r_l),
        pi_l,
        np.ascontiguousarray(p_bar),
        cdf,
        binom,
        init_s_g.astype(np.int64),
        init_counts,
        reset_every,
        group_log,
        log_groups,
    )
    if reward_sampler is not None:
        r = _sampled_rewards(game, reward_sampler, s, a, group_log, k, rng)
    return LoggedTrajectory(s, c, a, r, s2, c2, k, int(n))


def _sampled_rewards(
    game: TabularGame,
    sampler: RewardSampler,
    s_g: np.ndarray,
    a_g: np.ndarray,
    groups: np.ndarray,
    k: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Replace the mean rewards by draws: a global draw per step plus one local draw per
    subsampled agent, grouped by (local state, action) (Appendix F)."""
    T = s_g.shape[0]
    reward = np.zeros(T)
    for s in range(game.num_sg):
        for a in range(game.num_ag):
            idx = np.flatnonzero((s_g == s) & (a_g == a))
            if idx.size:
                reward[idx] += sampler.sample_global(game, s, a, rng, idx.size)
    local = np.zeros(T)
    for s in range(game.num_sg):
        at_s = s_g == s
        for i in range(game.num_sl):
            for a in range(game.num_al):
                cnt = np.where(at_s, groups[:, i, a], 0)
                total = int(cnt.sum())
                if total == 0:
                    continue
                draws = sampler.sample_local(game, i, s, a, rng, total)
                ends = np.cumsum(cnt)
                sums = np.diff(np.concatenate([[0.0], np.cumsum(draws)[ends - 1]]))
                local += np.where(cnt > 0, sums, 0.0)
    return reward + local / k
