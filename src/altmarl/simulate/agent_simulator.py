"""The per-agent simulator of online execution (SPEC §6): one state per agent.

Every agent is stepped in a jitted, parallel kernel over chunks of agents (no Python loop
over agents). Each chunk seeds numba's generator from seeds drawn from the caller's
``numpy.random.Generator``, so a result does not depend on which thread ran which chunk.
"""

from __future__ import annotations

import time

import numba as nb
import numpy as np

from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.policies import GlobalActor, LocalPolicy
from altmarl.simulate.rollouts import Recorder, Rollouts, finish_rollouts
from altmarl.simulate.subsample import (
    bincount_rows,
    categorical,
    population_mode,
    subsample_indices,
)

#: Largest ``n`` the per-agent simulator accepts (memory: one byte per agent and rollout).
MAX_AGENTS = 10**8


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
            rec = Recorder.concat([p[1] for p in pieces])
        return finish_rollouts(returns, rec, n, k, horizon, game.gamma, self.name, t0)

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
        rec = Recorder(R, horizon, L) if record else None
        returns = np.zeros(R)
        disc = 1.0
        rows = np.arange(R)[:, None]
        reward_c = np.empty(nch)
        for t in range(horizon):
            idx = subsample_indices(n, k, R, rng)
            sub = bincount_rows(states[rows, idx].astype(np.int64), L)
            a_g = np.asarray(global_policy.act(s_g, sub, rng), dtype=np.int64)
            if rec is not None:
                rec.log(t, N / n, s_g, a_g, population_mode(N), sub)
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
            s_g = categorical(game.P_g[s_g, a_g], rng)
        return returns, rec


def _sum_chunks(counts_c: np.ndarray, chunk_row: np.ndarray, R: int) -> np.ndarray:
    out = np.zeros((R, counts_c.shape[1]), dtype=np.int64)
    np.add.at(out, chunk_row, counts_c)
    return out
