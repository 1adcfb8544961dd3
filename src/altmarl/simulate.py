"""Online execution (SPEC §6, Algorithm 5) with two simulators behind one interface.

At every step ``t``: draw ``Delta_t``, a uniformly random ``k``-subset of the ``n`` agents
without replacement; ``a_g = pi_g(s_g, counts(s_Delta))``; every agent draws
``a_i ~ pi_l(.|s_i, s_g)``; collect ``r = r_g(s_g, a_g) + (1/n) sum_i r_l(s_i, s_g, a_i)``;
then ``s_g' ~ P_g(.|s_g, a_g)`` and ``s_i' ~ P_l(.|s_i, s_g, a_i)`` (current ``s_g``).

* :class:`AgentSimulator` keeps one state per agent (``[R, n]``) and steps every agent in a
  jitted, parallel kernel: no Python loop over agents.
* :class:`CountSimulator` keeps only ``(s_g, counts of the n agents)``; the subsample's
  counts are multivariate hypergeometric, each bin's agents choose actions by a
  multinomial, and each (bin, action) group moves by a multinomial. Exact in
  distribution, with a per-step cost independent of ``n`` (``n = 10^9`` is fine).

Both draw the subsample by Floyd's algorithm on agent indices (exact uniform ``k``-subsets
for any ``n``, cost ``O(k^2)``), mapping indices to local states through the population's
cumulative counts (counts simulator) or the per-agent states (agents simulator).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal, Protocol

import numba as nb
import numpy as np

from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.policies import GlobalActor, GlobalPolicy, LocalPolicy, check_pair_fits_game

SimulatorName = Literal["counts", "agents"]
SIMULATORS: tuple[str, ...] = ("counts", "agents")

#: Largest ``n`` the per-agent simulator accepts (memory: one byte per agent and rollout).
MAX_AGENTS = 10**8


@dataclass(frozen=True)
class Rollouts:
    """Results of online execution over ``R`` independent rollouts.

    returns : ``[R]`` discounted returns ``sum_{t<H} gamma^t r_t``.
    occupancy : ``[R, H, S_l]`` fraction of agents in each local state at the start of
        each step (``record=True`` only).
    global_states, global_actions, population_mode : ``[R, H]`` ``s_g(t)``, ``a_g(t)`` and the
        true population mode ``argmax_j counts_j(t)`` (lowest index on ties).
    """

    returns: np.ndarray
    n: int
    k: int
    horizon: int
    gamma: float
    simulator: str
    seconds: float
    occupancy: np.ndarray | None = None
    global_states: np.ndarray | None = None
    global_actions: np.ndarray | None = None
    population_mode: np.ndarray | None = None

    @property
    def rollouts(self) -> int:
        return int(self.returns.shape[0])

    @property
    def mean(self) -> float:
        return float(self.returns.mean())

    @property
    def std(self) -> float:
        return float(self.returns.std(ddof=1)) if self.rollouts > 1 else 0.0

    @property
    def stderr(self) -> float:
        return self.std / np.sqrt(self.rollouts)

    def ci(self, z: float = 1.96) -> tuple[float, float]:
        """Normal-approximation confidence interval of the mean return."""
        return self.mean - z * self.stderr, self.mean + z * self.stderr

    @property
    def mode_mismatch_rate(self) -> float | None:
        """Fraction of steps where ``a_g`` differs from the true population mode."""
        if self.global_actions is None or self.population_mode is None:
            return None
        return float(np.mean(self.global_actions != self.population_mode))


class Simulator(Protocol):
    """A simulator of online execution (Algorithm 5)."""

    name: str

    def run(
        self,
        game: TabularGame,
        global_policy: GlobalActor,
        local_policy: LocalPolicy,
        n: int,
        k: int,
        rollouts: int,
        horizon: int,
        rng: np.random.Generator,
        record: bool = False,
    ) -> Rollouts: ...


# ---------------------------------------------------------------------- shared kernels


@nb.njit(cache=True)
def _floyd(draws: np.ndarray, n: int) -> np.ndarray:
    """Floyd's algorithm: ``draws[r, i]`` uniform on ``[0, n-k+i]`` -> distinct indices."""
    R, k = draws.shape
    out = np.empty((R, k), dtype=np.int64)
    for r in range(R):
        for i in range(k):
            t = draws[r, i]
            for q in range(i):
                if out[r, q] == t:
                    t = n - k + i
                    break
            out[r, i] = t
    return out


def subsample_indices(n: int, k: int, rollouts: int, rng: np.random.Generator) -> np.ndarray:
    """``[R, k]`` uniformly random ``k``-subsets of ``range(n)`` (no replacement)."""
    if k == 0:
        return np.empty((rollouts, 0), dtype=np.int64)
    highs = np.arange(n - k + 1, n + 1, dtype=np.int64)
    return _floyd(rng.integers(0, highs, size=(rollouts, k)), n)


def subsample_counts(counts: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Multivariate hypergeometric counts of a ``k``-subsample: ``counts [R, L] -> [R, L]``."""
    R, L = counts.shape
    n = int(counts[0].sum())
    idx = subsample_indices(n, k, R, rng)
    cum = np.cumsum(counts, axis=1)
    bins = (idx[:, :, None] >= cum[:, None, :]).sum(axis=2)  # [R, k] local state of each pick
    return _bincount_rows(bins, L)


def _bincount_rows(values: np.ndarray, L: int) -> np.ndarray:
    R = values.shape[0]
    flat = values + (np.arange(R) * L)[:, None]
    return np.bincount(flat.ravel(), minlength=R * L).reshape(R, L)


def _categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of ``probs [R, K]``."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random((probs.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((u >= cdf).sum(axis=1), probs.shape[1] - 1)


def _mode(counts: np.ndarray) -> np.ndarray:
    return np.argmax(counts, axis=1)


# ---------------------------------------------------------------------- count simulator


class CountSimulator:
    """Exact simulator on ``(s_g, counts of n agents)``; cost per step independent of ``n``."""

    name = "counts"

    def run(
        self,
        game: TabularGame,
        global_policy: GlobalActor,
        local_policy: LocalPolicy,
        n: int,
        k: int,
        rollouts: int,
        horizon: int,
        rng: np.random.Generator,
        record: bool = False,
    ) -> Rollouts:
        t0 = time.perf_counter()
        R, L = rollouts, game.num_sl
        rho = game.sample_local_distributions(rng, R)
        N = rng.multinomial(n, rho)  # [R, L]
        s_g = game.sample_global_states(rng, R)
        rec = _Recorder(R, horizon, L) if record else None
        returns = np.zeros(R)
        disc = 1.0
        pi = local_policy.probs
        for t in range(horizon):
            sub = subsample_counts(N, k, rng)
            a_g = np.asarray(global_policy.act(s_g, sub, rng), dtype=np.int64)
            if rec is not None:
                rec.log(t, N / n, s_g, a_g, _mode(N))
            # each bin's agents choose actions: M[r, j, a]
            M = rng.multinomial(N, pi[:, s_g, :].transpose(1, 0, 2))
            rl = game.r_l[:, s_g, :].transpose(1, 0, 2)  # [R, L, A]
            reward = game.r_g[s_g, a_g] + (M * rl).sum(axis=(1, 2)) / n
            returns += disc * reward
            disc *= game.gamma
            # each (bin, action) group moves: [R, L, A, L]
            moves = rng.multinomial(M, game.P_l[:, s_g, :, :].transpose(1, 0, 2, 3))
            N = moves.sum(axis=(1, 2))
            s_g = _categorical(game.P_g[s_g, a_g], rng)
        return _finish(returns, rec, n, k, horizon, game.gamma, self.name, t0)


# ---------------------------------------------------------------------- agent simulator

_CHUNK = 1 << 15


@nb.njit(parallel=True, cache=True)
def _agents_init(states, counts_out, rho_cdf, chunk_row, chunk_lo, chunk_hi, seeds):
    """Draw every agent's initial state i.i.d. from its rollout's ``rho``."""
    L = rho_cdf.shape[1]
    for c in nb.prange(chunk_row.shape[0]):
        np.random.seed(seeds[c])  # noqa: NPY002 (numba per-thread stream)
        r = chunk_row[c]
        for i in range(chunk_lo[c], chunk_hi[c]):
            u = np.random.random()  # noqa: NPY002
            s = 0
            while s < L - 1 and u >= rho_cdf[r, s]:
                s += 1
            states[r, i] = s
            counts_out[c, s] += 1


@nb.njit(parallel=True, cache=True)
def _agents_step(
    states,
    s_g,
    joint_cdf,
    guide,
    r_l,
    chunk_row,
    chunk_lo,
    chunk_hi,
    seeds,
    reward_out,
    counts_out,
):
    """One step of every agent: draw ``(a_i, s_i')`` jointly, collect ``r_l(s_i, s_g, a_i)``.

    The pair is one categorical draw over ``A_l x S_l`` outcomes with probability
    ``pi_l(a|s, s_g) P_l(s'|s, s_g, a)`` (the same joint law as drawing ``a`` then ``s'``),
    located with a guide table so the search almost never loops. Each chunk reseeds the
    thread's generator from ``seeds[c]``, so the result does not depend on which thread
    ran which chunk.
    """
    L = r_l.shape[0]
    K = joint_cdf.shape[2]
    G = guide.shape[2]
    for c in nb.prange(chunk_row.shape[0]):
        np.random.seed(seeds[c])  # noqa: NPY002 (numba per-thread stream)
        r = chunk_row[c]
        g = s_g[r]
        acc = 0.0
        local_counts = np.zeros(L, dtype=np.int64)
        for i in range(chunk_lo[c], chunk_hi[c]):
            s = states[r, i]
            u = np.random.random()  # noqa: NPY002
            o = guide[s, g, int(u * G)]
            while o < K - 1 and u >= joint_cdf[s, g, o]:
                o += 1
            a = o // L
            s2 = o - a * L
            acc += r_l[s, g, a]
            states[r, i] = s2
            local_counts[s2] += 1
        reward_out[c] = acc
        counts_out[c, :] = local_counts


#: Buckets per guide table (Chen & Asau's guide-table method for categorical sampling).
_GUIDE = 64


def _joint_tables(game: TabularGame, local_policy: LocalPolicy) -> tuple[np.ndarray, np.ndarray]:
    """CDF ``[S_l, S_g, A_l*S_l]`` of the joint ``(a, s')`` law and its guide table."""
    joint = local_policy.probs[:, :, :, None] * game.P_l  # [S_l, S_g, A_l, S_l]
    cdf = np.cumsum(joint.reshape(game.num_sl, game.num_sg, -1), axis=2)
    cdf /= cdf[:, :, -1:]
    cdf[:, :, -1] = np.inf  # the last outcome absorbs round-off
    marks = np.arange(_GUIDE) / _GUIDE
    # guide[s, g, b] = first outcome whose cdf exceeds b / G: the search starts there.
    guide = (cdf[:, :, None, :] <= marks[None, None, :, None]).sum(axis=3)
    return cdf, guide.astype(np.int64)


def _chunks(R: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    per = -(-n // _CHUNK)
    lo = np.arange(per, dtype=np.int64) * _CHUNK
    hi = np.minimum(lo + _CHUNK, n)
    return np.repeat(np.arange(R), per), np.tile(lo, R), np.tile(hi, R)


def _seeds(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.integers(0, 2**32 - 1, size=size, dtype=np.uint32)


class AgentSimulator:
    """Per-agent simulator: one state per agent, every agent stepped in a jitted kernel.

    ``batch_agents`` caps ``rollouts_in_a_batch x n`` so memory stays bounded at large ``n``.
    """

    name = "agents"

    def __init__(self, batch_agents: int = 1 << 24) -> None:
        self.batch_agents = batch_agents

    def run(
        self,
        game: TabularGame,
        global_policy: GlobalActor,
        local_policy: LocalPolicy,
        n: int,
        k: int,
        rollouts: int,
        horizon: int,
        rng: np.random.Generator,
        record: bool = False,
    ) -> Rollouts:
        t0 = time.perf_counter()
        if n > MAX_AGENTS:
            raise AltmarlError(
                f"--n {n} is too large for the agents simulator (at most {MAX_AGENTS}); "
                "use the counts simulator, which is exact for any n"
            )
        per_batch = max(1, min(rollouts, self.batch_agents // n))
        pieces = []
        for start in range(0, rollouts, per_batch):
            size = min(per_batch, rollouts - start)
            pieces.append(
                self._run_batch(game, global_policy, local_policy, n, k, size, horizon, rng, record)
            )
        returns = np.concatenate([p[0] for p in pieces])
        rec = None
        if record:
            rec = _Recorder.concat([p[1] for p in pieces])
        return _finish(returns, rec, n, k, horizon, game.gamma, self.name, t0)

    def _run_batch(self, game, global_policy, local_policy, n, k, R, horizon, rng, record):
        L = game.num_sl
        dtype = np.uint8 if L <= 256 else np.int32
        states = np.empty((R, n), dtype=dtype)
        chunk_row, chunk_lo, chunk_hi = _chunks(R, n)
        nch = chunk_row.shape[0]
        rho = game.sample_local_distributions(rng, R)
        counts_c = np.zeros((nch, L), dtype=np.int64)
        _agents_init(
            states,
            counts_c,
            np.cumsum(rho, axis=1),
            chunk_row,
            chunk_lo,
            chunk_hi,
            _seeds(rng, nch),
        )
        N = _sum_chunks(counts_c, chunk_row, R)
        s_g = game.sample_global_states(rng, R)
        joint_cdf, guide = _joint_tables(game, local_policy)
        rec = _Recorder(R, horizon, L) if record else None
        returns = np.zeros(R)
        disc = 1.0
        rows = np.arange(R)[:, None]
        reward_c = np.empty(nch)
        for t in range(horizon):
            idx = subsample_indices(n, k, R, rng)
            sub = _bincount_rows(states[rows, idx].astype(np.int64), L)
            a_g = np.asarray(global_policy.act(s_g, sub, rng), dtype=np.int64)
            if rec is not None:
                rec.log(t, N / n, s_g, a_g, _mode(N))
            _agents_step(
                states,
                s_g,
                joint_cdf,
                guide,
                game.r_l,
                chunk_row,
                chunk_lo,
                chunk_hi,
                _seeds(rng, nch),
                reward_c,
                counts_c,
            )
            local = np.bincount(chunk_row, weights=reward_c, minlength=R)
            returns += disc * (game.r_g[s_g, a_g] + local / n)
            disc *= game.gamma
            N = _sum_chunks(counts_c, chunk_row, R)
            s_g = _categorical(game.P_g[s_g, a_g], rng)
        return returns, rec


def _sum_chunks(counts_c: np.ndarray, chunk_row: np.ndarray, R: int) -> np.ndarray:
    out = np.zeros((R, counts_c.shape[1]), dtype=np.int64)
    np.add.at(out, chunk_row, counts_c)
    return out


# ---------------------------------------------------------------------- recording


class _Recorder:
    def __init__(self, R: int, H: int, L: int) -> None:
        self.occupancy = np.zeros((R, H, L))
        self.global_states = np.zeros((R, H), dtype=np.int64)
        self.global_actions = np.zeros((R, H), dtype=np.int64)
        self.population_mode = np.zeros((R, H), dtype=np.int64)

    def log(self, t, occ, s_g, a_g, mode) -> None:
        self.occupancy[:, t] = occ
        self.global_states[:, t] = s_g
        self.global_actions[:, t] = a_g
        self.population_mode[:, t] = mode

    @classmethod
    def concat(cls, recs: list[_Recorder]) -> _Recorder:
        out = cls.__new__(cls)
        for name in ("occupancy", "global_states", "global_actions", "population_mode"):
            setattr(out, name, np.concatenate([getattr(r, name) for r in recs]))
        return out


def _finish(returns, rec, n, k, horizon, gamma, name, t0) -> Rollouts:
    extra = {}
    if rec is not None:
        extra = {
            "occupancy": rec.occupancy,
            "global_states": rec.global_states,
            "global_actions": rec.global_actions,
            "population_mode": rec.population_mode,
        }
    return Rollouts(
        returns=returns,
        n=n,
        k=k,
        horizon=horizon,
        gamma=gamma,
        simulator=name,
        seconds=time.perf_counter() - t0,
        **extra,
    )


# ---------------------------------------------------------------------- public entry


def get_simulator(name: str) -> Simulator:
    if name == "counts":
        return CountSimulator()
    if name == "agents":
        return AgentSimulator()
    raise AltmarlError(f"--simulator {name!r} must be one of {', '.join(SIMULATORS)}")


def evaluate(
    game: TabularGame,
    global_policy: GlobalActor,
    local_policy: LocalPolicy,
    *,
    n: int,
    k: int,
    rollouts: int = 50,
    horizon: int = 100,
    seed: int | np.random.Generator = 0,
    simulator: SimulatorName | Simulator = "counts",
    record: bool = False,
) -> Rollouts:
    """Online execution (Algorithm 5) of ``(pi_g, pi_l)`` with ``n`` agents, subsample ``k``.

    Returns per-rollout discounted returns over ``horizon`` steps and, with ``record``,
    per-step trajectories (occupancy fractions, ``s_g``, ``a_g``, true population mode).
    """
    n, k, rollouts, horizon = int(n), int(k), int(rollouts), int(horizon)
    if n < 1:
        raise AltmarlError(f"n = {n} must be >= 1")
    if not 0 <= k <= n:
        raise AltmarlError(f"k = {k} must satisfy 0 <= k <= n = {n}")
    if rollouts < 1:
        raise AltmarlError(f"rollouts = {rollouts} must be >= 1")
    if horizon < 1:
        raise AltmarlError(f"horizon = {horizon} must be >= 1")
    if isinstance(global_policy, GlobalPolicy):
        check_pair_fits_game(global_policy, local_policy, game)
        if global_policy.k != k:
            raise AltmarlError(f"k = {k} differs from the global policy's k = {global_policy.k}")
    else:
        local_policy.check_game(game.num_sl, game.num_sg, game.num_al)
    sim = get_simulator(simulator) if isinstance(simulator, str) else simulator
    rng = np.random.default_rng(seed)
    return sim.run(game, global_policy, local_policy, n, k, rollouts, horizon, rng, record)
