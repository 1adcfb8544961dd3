"""Finite episodic MDPs: exact planning and exact policy evaluation (SPEC §4a-§4d).

The chained MDPs of L-LEARN (Algorithms 21 and 28) and the learners run on them (UCFH)
share this one small type. Conventions:

* ``S`` states, ``A`` actions, horizon ``H`` (steps ``t = 0..H-1``; the value after step
  ``H-1`` is 0).
* Transitions are sparse: one CSR matrix ``P_stack[s * A + a, s']`` for a stationary
  kernel, or a tuple of ``H`` such matrices for a time-dependent one. Planning then
  computes every ``Q_t(s, a)`` with one sparse mat-vec per step.
* Rewards are known: ``reward`` is ``[S]`` (state rewards), ``[S, A]`` or ``[H, S, A]``,
  optionally multiplied by ``time_weight[t]`` (a discount ``gamma^(t // (k+1))`` folded
  into a finite horizon is a time weight; SPEC §4c).
* ``observation[s]`` is the id a restricted policy sees in state ``s`` (``-1``: no
  decision there, every action has the same effect). A restricted policy is a table
  ``[O, A]`` (stationary) or ``[H, O, A]``; at ``-1`` it plays the uniform distribution.

Policies in general are ``[H, S]`` action tables (deterministic, non-stationary),
``[S, A]`` / ``[H, S, A]`` probability tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from altmarl.errors import AltmarlError
from altmarl.memory import check_memory

#: Tolerance on the sum of a transition row or of the initial distribution.
PROB_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class EpisodicMDP:
    """A finite episodic MDP with known rewards (the object UCFH and planning act on).

    Parameters
    ----------
    P : CSR ``[S * A, S]`` (row ``s * A + a`` is ``P(. | s, a)``), or a tuple of ``H``
        of them when the kernel depends on the step.
    reward : ``[S]``, ``[S, A]`` or ``[H, S, A]`` known rewards.
    horizon : ``H >= 1``.
    initial : ``[S]`` initial distribution.
    num_actions : ``A``.
    time_weight : optional ``[H]`` factor on the reward of step ``t``.
    observation : optional int ``[S]`` observation ids (``-1``: no decision).
    num_observations : number of observation ids (``max(observation) + 1`` if omitted).
    """

    P: sp.csr_matrix | tuple[sp.csr_matrix, ...]
    reward: np.ndarray
    horizon: int
    initial: np.ndarray
    num_actions: int
    time_weight: np.ndarray | None = None
    observation: np.ndarray | None = None
    num_observations: int = 0
    name: str = "mdp"
    _cdf: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        H, A = int(self.horizon), int(self.num_actions)
        if H < 1:
            raise AltmarlError(f"horizon H = {H} must be >= 1")
        if A < 1:
            raise AltmarlError(f"num_actions = {A} must be >= 1")
        Ps = self.P if isinstance(self.P, tuple) else (self.P,)
        if isinstance(self.P, tuple) and len(Ps) != H:
            raise AltmarlError(f"a time-dependent P needs H = {H} matrices, got {len(Ps)}")
        Ps = tuple(sp.csr_matrix(p, dtype=np.float64) for p in Ps)
        S = Ps[0].shape[1]
        for t, p in enumerate(Ps):
            if p.shape != (S * A, S):
                raise AltmarlError(f"P[{t}] must have shape [S*A, S] = {(S * A, S)}, got {p.shape}")
            if p.nnz and p.data.min() < 0:
                raise AltmarlError(f"P[{t}] has a negative probability")
            sums = np.asarray(p.sum(axis=1)).ravel()
            bad = np.flatnonzero(np.abs(sums - 1.0) > PROB_TOL)
            if bad.size:
                s, a = divmod(int(bad[0]), A)
                raise AltmarlError(
                    f"P[{t}] row (s={s}, a={a}) sums to {sums[bad[0]]:.12g}; every transition "
                    f"row must sum to 1 within {PROB_TOL:g}"
                )
            p.sort_indices()
        reward = np.asarray(self.reward, dtype=np.float64)
        if reward.shape not in ((S,), (S, A), (H, S, A)):
            raise AltmarlError(
                f"reward must have shape [S]={(S,)}, [S, A]={(S, A)} or [H, S, A]={(H, S, A)}; "
                f"got {reward.shape}"
            )
        initial = np.asarray(self.initial, dtype=np.float64)
        if initial.shape != (S,) or (initial < 0).any() or abs(initial.sum() - 1) > PROB_TOL:
            raise AltmarlError(f"initial must be a probability vector of length S = {S}")
        tw = None
        if self.time_weight is not None:
            tw = np.asarray(self.time_weight, dtype=np.float64)
            if tw.shape != (H,):
                raise AltmarlError(f"time_weight must have shape [H] = ({H},), got {tw.shape}")
        obs = None
        n_obs = int(self.num_observations)
        if self.observation is not None:
            obs = np.asarray(self.observation, dtype=np.int64)
            if obs.shape != (S,):
                raise AltmarlError(f"observation must have shape [S] = ({S},), got {obs.shape}")
            n_obs = max(n_obs, int(obs.max()) + 1 if obs.size else 0)
            if obs.size and obs.min() < -1:
                raise AltmarlError("observation ids must be >= -1 (-1: no decision)")
        object.__setattr__(self, "P", Ps if isinstance(self.P, tuple) else Ps[0])
        object.__setattr__(self, "reward", reward)
        object.__setattr__(self, "initial", initial)
        object.__setattr__(self, "time_weight", tw)
        object.__setattr__(self, "observation", obs)
        object.__setattr__(self, "num_observations", n_obs)
        object.__setattr__(self, "horizon", H)
        object.__setattr__(self, "num_actions", A)

    # ------------------------------------------------------------------ accessors
    @property
    def num_states(self) -> int:
        return self.P_at(0).shape[1]

    @property
    def stationary(self) -> bool:
        """True when the kernel does not depend on the step."""
        return not isinstance(self.P, tuple)

    def P_at(self, t: int) -> sp.csr_matrix:
        """The stacked kernel ``[S * A, S]`` used at step ``t``."""
        return self.P[t] if isinstance(self.P, tuple) else self.P

    def reward_at(self, t: int) -> np.ndarray:
        """``r(s, a, t)`` as ``[S, A]`` (time weight applied)."""
        S, A = self.num_states, self.num_actions
        r = self.reward
        if r.ndim == 1:
            out = np.broadcast_to(r[:, None], (S, A))
        elif r.ndim == 2:
            out = r
        else:
            out = r[t]
        if self.time_weight is not None:
            out = out * self.time_weight[t]
        return out

    def reward_table(self) -> np.ndarray:
        """All rewards ``[H, S, A]`` (time weight applied)."""
        return np.stack([self.reward_at(t) for t in range(self.horizon)])

    @property
    def reward_bound(self) -> float:
        """``max_{s,a,t} r(s, a, t)``."""
        return float(max(self.reward_at(t).max() for t in range(self.horizon)))

    def sampler_cdf(self) -> np.ndarray:
        """Row-wise cumulative sums of the (stationary) kernel's data, for sampling."""
        if self._cdf is None:
            P = self.P_at(0)
            cdf = np.empty_like(P.data)
            _row_cumsum(P.indptr, P.data, cdf)
            object.__setattr__(self, "_cdf", cdf)
        return self._cdf  # type: ignore[return-value]

    # ------------------------------------------------------------------ policies
    def restricted_to_full(self, table: ArrayLike) -> np.ndarray:
        """Expand an observation-restricted policy ``[O, A]`` or ``[H, O, A]`` to ``[H, S, A]``."""
        if self.observation is None:
            raise AltmarlError("this MDP has no observation map; give a policy over states")
        pol = np.asarray(table, dtype=np.float64)
        O, A, H = self.num_observations, self.num_actions, self.horizon
        if pol.shape == (O, A):
            pol = np.broadcast_to(pol, (H, O, A))
        if pol.shape != (H, O, A):
            raise AltmarlError(f"restricted policy must have shape [O, A] or [H, O, A] with O={O}")
        padded = np.concatenate([pol, np.full((H, 1, A), 1.0 / A)], axis=1)
        return padded[:, self.observation, :]  # obs -1 -> the uniform row appended last

    def as_probabilities(self, policy: ArrayLike) -> np.ndarray:
        """Any policy form (``[H, S]`` actions, ``[S, A]``, ``[H, S, A]``) -> ``[H, S, A]``."""
        pol = np.asarray(policy)
        S, A, H = self.num_states, self.num_actions, self.horizon
        if pol.shape == (H, S) and np.issubdtype(pol.dtype, np.integer):
            return np.eye(A)[pol]
        if pol.shape == (S, A):
            return np.broadcast_to(pol.astype(np.float64), (H, S, A))
        if pol.shape == (H, S, A):
            return pol.astype(np.float64)
        raise AltmarlError(
            f"policy must be int [H, S]={(H, S)} or probabilities [S, A] / [H, S, A]; "
            f"got shape {pol.shape}"
        )


@numba.njit(cache=True)
def _row_cumsum(indptr, data, out):  # pragma: no cover - jitted
    for r in range(indptr.size - 1):
        acc = 0.0
        for j in range(indptr[r], indptr[r + 1]):
            acc += data[j]
            out[j] = acc
        if indptr[r + 1] > indptr[r]:
            out[indptr[r + 1] - 1] = 1.0  # guard against rounding: the last entry closes


# ---------------------------------------------------------------------- exact planning


def backward_induction(mdp: EpisodicMDP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact finite-horizon planning: ``(V [H+1, S], Q [H, S, A], greedy [H, S])``.

    ``V_H = 0``, ``Q_t = r_t + P V_{t+1}``, ``V_t = max_a Q_t``; ties go to the lowest action.
    """
    S, A, H = mdp.num_states, mdp.num_actions, mdp.horizon
    check_memory(H * S * A * 8 * 2, f"the Q table of an MDP with S={S}, A={A}, H={H}")
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    for t in range(H - 1, -1, -1):
        Q[t] = mdp.reward_at(t) + (mdp.P_at(t) @ V[t + 1]).reshape(S, A)
        V[t] = Q[t].max(axis=1)
    return V, Q, Q.argmax(axis=2)


def evaluate_policy(mdp: EpisodicMDP, policy: ArrayLike) -> tuple[float, np.ndarray, np.ndarray]:
    """Exact value of a (non-stationary, stochastic) policy: ``(value, V [H+1, S], Q [H, S, A])``.

    ``value = initial @ V_0``. ``policy``: int ``[H, S]``, ``[S, A]`` or ``[H, S, A]``.
    """
    pi = mdp.as_probabilities(policy)
    S, A, H = mdp.num_states, mdp.num_actions, mdp.horizon
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    for t in range(H - 1, -1, -1):
        Q[t] = mdp.reward_at(t) + (mdp.P_at(t) @ V[t + 1]).reshape(S, A)
        V[t] = (pi[t] * Q[t]).sum(axis=1)
    return float(mdp.initial @ V[0]), V, Q


def evaluate_restricted(mdp: EpisodicMDP, table: ArrayLike) -> float:
    """Exact value of an observation-restricted policy ``[O, A]`` or ``[H, O, A]`` (SPEC §4e)."""
    pol = np.asarray(table, dtype=np.float64)
    if pol.shape != (mdp.num_observations, mdp.num_actions):
        return evaluate_policy(mdp, mdp.restricted_to_full(pol))[0]
    # stationary table: one [S, A] policy and a rolling V, no [H, S, A] arrays (this is
    # the inner loop of the planning oracle's coordinate ascent on large chains)
    S, A = mdp.num_states, mdp.num_actions
    if mdp.observation is None:
        raise AltmarlError("this MDP has no observation map; give a policy over states")
    pi = np.concatenate([pol, np.full((1, A), 1.0 / A)])[mdp.observation]  # -1: uniform
    V = np.zeros(S)
    for t in range(mdp.horizon - 1, -1, -1):
        V = (pi * (mdp.reward_at(t) + (mdp.P_at(t) @ V).reshape(S, A))).sum(axis=1)
    return float(mdp.initial @ V)


def occupancy(mdp: EpisodicMDP, policy: ArrayLike) -> np.ndarray:
    """State-action occupancy ``d[t, s, a] = P(s_t = s, a_t = a)`` under ``policy``."""
    pi = mdp.as_probabilities(policy)
    S, A, H = mdp.num_states, mdp.num_actions, mdp.horizon
    d = np.empty((H, S, A))
    state = mdp.initial.copy()
    for t in range(H):
        d[t] = state[:, None] * pi[t]
        state = mdp.P_at(t).T @ d[t].ravel()
    return d


def project_to_observations(
    mdp: EpisodicMDP, policy: ArrayLike, weight_by_time: bool = True
) -> np.ndarray:
    """Occupancy-weighted action frequencies at each observation (SPEC §4e), ``[O, A]``.

    ``pi(a | o) ∝ sum_t w_t sum_{s : obs(s) = o} d[t, s, a]`` with ``w_t`` the MDP's time
    weight (the discounted occupancy, so late steps of a truncated horizon count less).
    Observations never reached get the uniform distribution.
    """
    if mdp.observation is None:
        raise AltmarlError("this MDP has no observation map to project onto")
    d = occupancy(mdp, policy)
    if weight_by_time and mdp.time_weight is not None:
        d = d * mdp.time_weight[:, None, None]
    per_state = d.sum(axis=0)  # [S, A]
    O, A = mdp.num_observations, mdp.num_actions
    keep = mdp.observation >= 0
    freq = np.zeros((O, A))
    np.add.at(freq, mdp.observation[keep], per_state[keep])
    tot = freq.sum(axis=1, keepdims=True)
    return np.where(tot > 0, freq / np.where(tot > 0, tot, 1.0), 1.0 / A)


# ---------------------------------------------------------------------- sampling


def sample_episodes(
    mdp: EpisodicMDP, policy: np.ndarray, num_episodes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Roll out a deterministic policy ``[H, S]`` from the true model (stationary kernel).

    Returns ``(states [E, H+1], actions [E, H])``.
    """
    if not mdp.stationary:
        raise AltmarlError("sample_episodes needs a stationary kernel")
    P = mdp.P_at(0)
    cdf = mdp.sampler_cdf()
    H = mdp.horizon
    u = rng.random((num_episodes, H + 1))
    init_cdf = np.cumsum(mdp.initial)
    init_cdf[-1] = 1.0
    states = np.empty((num_episodes, H + 1), dtype=np.int64)
    actions = np.empty((num_episodes, H), dtype=np.int64)
    _rollout(
        np.ascontiguousarray(policy, dtype=np.int64),
        P.indptr,
        P.indices,
        cdf,
        init_cdf,
        mdp.num_actions,
        u,
        states,
        actions,
    )
    return states, actions


@numba.njit(cache=True)
def _sample_row(indptr, indices, cdf, row, u):  # pragma: no cover - jitted
    lo, hi = indptr[row], indptr[row + 1]
    j = lo + np.searchsorted(cdf[lo:hi], u, side="right")
    if j >= hi:
        j = hi - 1
    return indices[j]


@numba.njit(cache=True)
def _rollout(policy, indptr, indices, cdf, init_cdf, A, u, states, actions):  # pragma: no cover
    E, H = actions.shape
    for e in range(E):
        s = np.searchsorted(init_cdf, u[e, 0], side="right")
        if s >= init_cdf.size:
            s = init_cdf.size - 1
        states[e, 0] = s
        for t in range(H):
            a = policy[t, s]
            actions[e, t] = a
            s = _sample_row(indptr, indices, cdf, s * A + a, u[e, t + 1])
            states[e, t + 1] = s
