"""UCFH with FixedHorizonEVI (Dann & Brunskill 2015; SPEC §4d).

"Sample complexity of episodic fixed-horizon reinforcement learning": PAC learning of a
finite episodic MDP with KNOWN rewards ``r(s, a, t)`` from whole episodes.

* Counts ``n(s, a, t)``, ``n(s' | s, a, t)`` change only at the end of a knownness phase;
  episodes accumulate pending counts ``v``. When some ``(s, a, t)`` reaches
  ``v >= max(m, n)`` (and ``n < |S| m H``), its ``v`` is folded into ``n`` and the policy
  is re-planned.
* Confidence set of one transition entry with empirical probability ``p`` from ``n > 1``
  samples: ``[p - min(hoeff, bern), p + min(hoeff, bern)] ∩ [0, 1]`` with
  ``hoeff = sqrt(L / 2n)``, ``bern = sqrt(p(1-p)) sqrt(2L/n) + 7L / (3(n-1))``, intersected
  with the convex hull of ``{q : |sqrt(q(1-q)) - sqrt(p(1-p))| <= sqrt(2L/(n-1))}``;
  ``[0, 1]`` when ``n <= 1``. ``L = ln(6 / delta1)``,
  ``delta1 = delta / (2 |S|^2 |A| H log2(4 |S|^2 H^2 / eps))``.
* FixedHorizonEVI: backward induction in which each ``(s, a)`` picks the most optimistic
  transition vector in its set: every next state starts at its lower end, the remaining
  mass goes to next states in decreasing order of ``V_{t+1}``, each up to its upper end.

Knownness threshold. The theory value
``m = 512 (log2 log2 H)^2 |S| H^3 ln^2(8 H^2 |S|^2 / eps) ln(3 / delta1)`` is 1e8..1e14 for
the MDPs of this library (:func:`theory_knownness_threshold`), so the practical default
is the absolute value ``m = DEFAULT_KNOWNNESS`` (a first re-plan after ``m`` visits; the
phases then double). ``knownness_scale=c`` uses ``m = max(1, ceil(c * m_theory))``.
The freeze rule ``n < |S| m H`` always uses the theory ``m`` (a practical ``m`` there would
freeze the estimates long before they are ``eps``-accurate).

Stopping rule (an addition; UCFH itself runs forever): after each re-plan the greedy
policy is also evaluated PESSIMISTICALLY over the same confidence sets; when
``V_optimistic - V_pessimistic(pi) <= eps`` (at the known initial distribution) the policy
is certified ``eps``-optimal with probability ``>= 1 - delta`` and learning stops.
Otherwise it stops after ``max_episodes``.

``pool_time=True`` keeps one count table for all steps (valid for a stationary kernel, as
in the chained MDPs; the confidence sets are the same formulas on pooled counts).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numba
import numpy as np

from altmarl.errors import AltmarlError
from altmarl.llearn.mdp import EpisodicMDP, sample_episodes
from altmarl.memory import check_memory

#: Practical knownness threshold ``m`` (see the module docstring).
DEFAULT_KNOWNNESS = 10


@runtime_checkable
class EpisodicSimulator(Protocol):
    """A generative episodic environment: the learner's only access to the transitions."""

    def reset(self, rng: np.random.Generator) -> int:
        """Initial state ``s_0``."""
        ...

    def step(self, s: int, a: int, t: int, rng: np.random.Generator) -> int:
        """Next state ``s_{t+1} ~ P(. | s, a, t)``."""
        ...


class ModelSimulator:
    """Samples the true kernel of an :class:`EpisodicMDP` (fast batched episodes)."""

    def __init__(self, mdp: EpisodicMDP) -> None:
        if not mdp.stationary:
            raise AltmarlError("ModelSimulator needs a stationary kernel")
        self.mdp = mdp

    def reset(self, rng: np.random.Generator) -> int:
        return int(rng.choice(self.mdp.num_states, p=self.mdp.initial))

    def step(self, s: int, a: int, t: int, rng: np.random.Generator) -> int:
        row = self.mdp.P_at(t)[s * self.mdp.num_actions + a]
        return int(rng.choice(row.indices, p=row.data / row.data.sum()))

    def run_episodes(
        self, policy: np.ndarray, num_episodes: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(states [E, H+1], actions [E, H])`` under a deterministic policy ``[H, S]``."""
        return sample_episodes(self.mdp, policy, num_episodes, rng)


def theory_knownness_threshold(
    num_states: int, num_actions: int, horizon: int, eps: float, delta: float
) -> float:
    """The knownness threshold ``m`` of UCFH's analysis (SPEC §4d), as a float."""
    S, A, H = num_states, num_actions, horizon
    d1 = confidence_delta1(S, A, H, eps, delta)
    loglog = math.log2(math.log2(H)) if H > 2 else 0.0
    return 512 * loglog**2 * S * H**3 * math.log(8 * H**2 * S**2 / eps) ** 2 * math.log(3 / d1)


def confidence_delta1(S: int, A: int, H: int, eps: float, delta: float) -> float:
    """``delta1 = delta / (2 |S|^2 |A| H log2(4 |S|^2 H^2 / eps))``."""
    return delta / (2 * S**2 * A * H * math.log2(max(4 * S**2 * H**2 / eps, 2.0)))


def confidence_intervals(
    n: np.ndarray, n_next: np.ndarray, L: float
) -> tuple[np.ndarray, np.ndarray]:
    """UCFH's per-entry confidence intervals ``(lower, upper)``, each ``[..., S']``.

    ``n: [...]`` sample counts, ``n_next: [..., S']`` next-state counts, ``L = ln(6/delta1)``.
    """
    n = np.asarray(n, dtype=np.float64)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, n_next / np.where(n > 0, n, 1.0), 0.0)
        var = p * (1 - p)
        hoeff = np.sqrt(L / (2 * n))
        bern = np.sqrt(var) * np.sqrt(2 * L / n) + 7 * L / (3 * (n - 1))
        w = np.minimum(hoeff, bern)
        lo = np.maximum(0.0, p - w)
        up = np.minimum(1.0, p + w)
        # sqrt(q(1-q)) >= sqrt(p(1-p)) - sqrt(2L/(n-1)): q in a band around 1/2 (convex)
        s_lo = np.clip(np.sqrt(var) - np.sqrt(2 * L / (n - 1)), 0.0, 0.5)
        half = np.sqrt(np.clip(1 - 4 * s_lo**2, 0.0, 1.0)) / 2
    lo = np.maximum(lo, 0.5 - half)
    up = np.minimum(up, 0.5 + half)
    few = np.broadcast_to(n <= 1, lo.shape)
    lo = np.where(few, 0.0, lo)
    up = np.where(few, 1.0, up)
    return lo, up


def extreme_transition(lo: np.ndarray, up: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The vector of each row's set that favours states early in ``order`` (UCRL2's inner max).

    ``lo, up: [R, S']``; ``order: [S']`` next states, most favoured first. Every entry
    starts at its lower end; the remaining mass fills entries in ``order`` up to ``up``.
    """
    cap = (up - lo)[:, order]
    rem = 1.0 - lo.sum(axis=1, keepdims=True)
    before = np.cumsum(cap, axis=1) - cap
    add_sorted = np.clip(rem - before, 0.0, cap)
    p = lo.copy()
    p[:, order] += add_sorted
    return p


def fixed_horizon_evi(
    reward: np.ndarray, lo: np.ndarray, up: np.ndarray, pooled: bool
) -> tuple[np.ndarray, np.ndarray]:
    """FixedHorizonEVI: optimistic ``(V [H+1, S], Q [H, S, A])``.

    ``reward: [H, S, A]``; ``lo, up: [S, A, S']`` (``pooled``) or ``[H, S, A, S']``.
    Same result as :func:`extreme_transition` row by row (the reference), in a jitted loop.
    """
    H, S, A = reward.shape
    lo4, up4 = (lo[None], up[None]) if pooled else (lo, up)
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    _evi_optimistic(np.ascontiguousarray(reward), lo4, up4, V, Q)
    return V, Q


def pessimistic_value(
    reward: np.ndarray, lo: np.ndarray, up: np.ndarray, pooled: bool, policy: np.ndarray
) -> np.ndarray:
    """Lowest value ``V [H+1, S]`` of a deterministic ``policy [H, S]`` over the confidence sets."""
    H, S, _ = reward.shape
    lo4, up4 = (lo[None], up[None]) if pooled else (lo, up)
    V = np.zeros((H + 1, S))
    _eval_pessimistic(
        np.ascontiguousarray(reward), lo4, up4, np.ascontiguousarray(policy, np.int64), V
    )
    return V


@numba.njit(cache=True)
def _extreme_dot(lo, up, order, v):  # pragma: no cover - jitted
    """``max/min p @ v`` over ``lo <= p <= up, sum p = 1``; ``order`` favoured first."""
    total = 0.0
    mass = 0.0
    for j in range(v.size):
        total += lo[j] * v[j]
        mass += lo[j]
    rem = 1.0 - mass
    for idx in range(order.size):
        if rem <= 0.0:
            break
        j = order[idx]
        add = min(up[j] - lo[j], rem)
        total += add * v[j]
        rem -= add
    return total


@numba.njit(cache=True)
def _evi_optimistic(reward, lo, up, V, Q):  # pragma: no cover - jitted
    H, S, A = reward.shape
    pooled = lo.shape[0] == 1
    for t in range(H - 1, -1, -1):
        tt = 0 if pooled else t
        v = V[t + 1]
        order = np.argsort(-v)
        for s in range(S):
            best = -np.inf
            for a in range(A):
                q = reward[t, s, a] + _extreme_dot(lo[tt, s, a], up[tt, s, a], order, v)
                Q[t, s, a] = q
                if q > best:
                    best = q
            V[t, s] = best


@numba.njit(cache=True)
def _eval_pessimistic(reward, lo, up, policy, V):  # pragma: no cover - jitted
    H, S, _ = reward.shape
    pooled = lo.shape[0] == 1
    for t in range(H - 1, -1, -1):
        tt = 0 if pooled else t
        v = V[t + 1]
        order = np.argsort(v)
        for s in range(S):
            a = policy[t, s]
            V[t, s] = reward[t, s, a] + _extreme_dot(lo[tt, s, a], up[tt, s, a], order, v)


@dataclass(frozen=True)
class UCFHResult:
    """Outcome of a UCFH run.

    policy : int ``[H, S]`` the last greedy (optimistic) policy.
    q_optimistic : ``[H, S, A]`` its optimistic Q.
    v_optimistic, v_pessimistic : optimistic value and pessimistic value of ``policy`` at
        the initial distribution (an interval holding the optimum's and the policy's
        true values with probability ``>= 1 - delta``).
    episodes, samples : episodes run and transitions sampled.
    replans : number of knownness phases (plans).
    certified : ``v_optimistic - v_pessimistic <= eps`` was reached.
    knownness : the threshold ``m`` used.
    """

    policy: np.ndarray
    q_optimistic: np.ndarray
    v_optimistic: float
    v_pessimistic: float
    episodes: int
    samples: int
    replans: int
    certified: bool
    knownness: int
    seconds: float


def _check_ucfh_args(eps: float, delta: float, max_episodes: int, knownness: int) -> None:
    if not eps > 0:
        raise AltmarlError(f"eps = {eps} must be > 0")
    if not 0 < delta < 1:
        raise AltmarlError(f"delta = {delta} must lie in (0, 1)")
    if int(max_episodes) != max_episodes or max_episodes < 1:
        raise AltmarlError(f"max_episodes = {max_episodes} must be an integer >= 1")
    if int(knownness) != knownness or knownness < 1:
        raise AltmarlError(f"knownness = {knownness} must be an integer >= 1")


def _knownness_threshold(knownness: int, knownness_scale: float | None, m_theory: float) -> int:
    """The threshold ``m`` in use: the practical ``knownness`` or a scaled theory value."""
    if knownness_scale is not None:
        if not knownness_scale > 0:
            raise AltmarlError(f"knownness_scale = {knownness_scale} must be > 0")
        return max(1, math.ceil(knownness_scale * m_theory))
    return int(knownness)


def _plan(
    reward: np.ndarray,
    n: np.ndarray,
    n_next: np.ndarray,
    L: float,
    pool_time: bool,
    init: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One UCFH plan from the current counts (SPEC §4d): FixedHorizonEVI's greedy policy.

    reward: [H, S, A]; n: [Hc, S, A]; n_next: [Hc, S, A, S'] (``Hc = 1`` when
    ``pool_time``); init: [S]. Returns ``(policy [H, S], Q [H, S, A], V_optimistic,
    V_pessimistic(policy))``, the values at ``init``; their gap drives the stopping rule.
    """
    lo, up = confidence_intervals(n, n_next, L)
    if pool_time:
        lo, up = lo[0], up[0]
    V, Q = fixed_horizon_evi(reward, lo, up, pool_time)
    pol = Q.argmax(axis=2)
    Vp = pessimistic_value(reward, lo, up, pool_time, pol)
    return pol, Q, float(init @ V[0]), float(init @ Vp[0])


def _end_knownness_phase(
    v: np.ndarray, v_next: np.ndarray, n: np.ndarray, n_next: np.ndarray, m: int, cap: float
) -> None:
    """Fold the pending counts ``v, v_next`` into ``n, n_next`` (in place) where
    ``v >= max(m, n)`` and the entry is not yet frozen (``n < cap``)."""
    mask = (v >= np.maximum(m, n)) & (n < cap)
    n[mask] += v[mask]
    n_next[mask] += v_next[mask]
    v[mask] = 0.0
    v_next[mask] = 0.0


def ucfh(
    mdp: EpisodicMDP,
    env: EpisodicSimulator | None = None,
    *,
    eps: float,
    delta: float = 0.1,
    max_episodes: int = 100_000,
    knownness: int = DEFAULT_KNOWNNESS,
    knownness_scale: float | None = None,
    pool_time: bool = False,
    seed: int | np.random.Generator = 0,
) -> UCFHResult:
    """UCFH (SPEC §4d) on the MDP whose rewards, horizon and sizes ``mdp`` gives.

    The transitions are learned from ``env`` only (default: a :class:`ModelSimulator` of
    ``mdp``'s own kernel); ``mdp.P`` is never read by the learner. ``mdp.initial`` is used
    for the reported values and the stopping rule.
    """
    _check_ucfh_args(eps, delta, max_episodes, knownness)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    env = ModelSimulator(mdp) if env is None else env
    S, A, H = mdp.num_states, mdp.num_actions, mdp.horizon
    m_theory = theory_knownness_threshold(S, A, H, eps, delta)
    m = _knownness_threshold(knownness, knownness_scale, m_theory)
    Hc = 1 if pool_time else H
    check_memory(Hc * S * A * S * 8 * 6, f"UCFH count tables (S={S}, A={A}, H_counts={Hc})")
    n = np.zeros((Hc, S, A))
    n_next = np.zeros((Hc, S, A, S))
    v = np.zeros((Hc, S, A))
    v_next = np.zeros((Hc, S, A, S))
    L = math.log(6 / confidence_delta1(S, A, H, eps, delta))
    # Dann & Brunskill stop updating (s, a, t) once n >= |S| m H: by then the THEORY m
    # makes it accurate enough. The cap keeps the theory m, since a practical m would
    # freeze the estimates far too early to ever reach eps.
    cap = S * max(m, m_theory) * H
    reward = mdp.reward_table()
    init = mdp.initial
    fast = hasattr(env, "run_episodes")

    policy, Q, v_opt, v_pes = _plan(reward, n, n_next, L, pool_time, init)
    episodes = samples = 0
    replans = 1
    certified = v_opt - v_pes <= eps
    batch = 1
    while not certified and episodes < max_episodes:
        want = min(batch, max_episodes - episodes)
        if fast:
            states, actions = env.run_episodes(policy, want, rng)  # type: ignore[attr-defined]
        else:
            states, actions = _step_episodes(env, policy, want, H, rng)
        used, triggered = _absorb(states, actions, v, v_next, n, float(m), float(cap), pool_time)
        episodes += used
        samples += used * H
        if triggered:
            _end_knownness_phase(v, v_next, n, n_next, m, cap)
            policy, Q, v_opt, v_pes = _plan(reward, n, n_next, L, pool_time, init)
            replans += 1
            certified = v_opt - v_pes <= eps
            batch = 1
        else:
            batch = min(batch * 2, 4096)
    return UCFHResult(
        policy=policy,
        q_optimistic=Q,
        v_optimistic=v_opt,
        v_pessimistic=v_pes,
        episodes=episodes,
        samples=samples,
        replans=replans,
        certified=bool(certified),
        knownness=m,
        seconds=time.perf_counter() - start,
    )


def _step_episodes(
    env: EpisodicSimulator, policy: np.ndarray, num: int, H: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    states = np.empty((num, H + 1), dtype=np.int64)
    actions = np.empty((num, H), dtype=np.int64)
    for e in range(num):
        s = int(env.reset(rng))
        states[e, 0] = s
        for t in range(H):
            a = int(policy[t, s])
            actions[e, t] = a
            s = int(env.step(s, a, t, rng))
            states[e, t + 1] = s
    return states, actions


@numba.njit(cache=True)
def _absorb(states, actions, v, v_next, n, m, cap, pooled):  # pragma: no cover - jitted
    """Add episodes' transitions to the pending counts, one episode at a time, and stop
    after the first episode that makes some ``(s, a, t)`` reach ``v >= max(m, n)``.

    Returns ``(episodes used, triggered)``.
    """
    E, H = actions.shape
    for e in range(E):
        hit = False
        for t in range(H):
            tt = 0 if pooled else t
            s = states[e, t]
            a = actions[e, t]
            v[tt, s, a] += 1.0
            v_next[tt, s, a, states[e, t + 1]] += 1.0
            if n[tt, s, a] < cap and v[tt, s, a] >= max(m, n[tt, s, a]):
                hit = True
        if hit:
            return e + 1, True
    return E, False
