"""Anderson mixing for fixed-point iterations ``x <- g(x)`` (Walker & Ni 2011)."""

from __future__ import annotations

import numba
import numpy as np

#: Restarts after which mixing that keeps failing is switched off (plain iteration).
MAX_ANDERSON_RESETS = 20

#: Fixed number of chunks of the parallel sums: their order, hence the result, does not
#: depend on the number of threads.
_NCHUNK = 256

#: Below this many entries a step runs on one thread: it takes a few milliseconds, and
#: waking the other threads for it costs as much on a quiet machine and a scheduler
#: time slice per pass on a busy one (a 2-thread step then averaged 10-1000 ms, measured
#: at 232,000 entries with 5 other processes on 2 cores). Above it (k = 50 on the
#: warehouse: 1.6 million entries, 20 ms a step on one thread) two threads save about
#: 0.2-0.4 s of a 4.5 s G-LEARN call on a quiet machine.
PARALLEL_MIN_SIZE = 2**20


@numba.njit(parallel=True, cache=True)
def _residual_sum(x: np.ndarray, g: np.ndarray) -> float:  # pragma: no cover - jitted
    """``sum(g - x)``, chunk by chunk in a fixed order."""
    n = x.shape[0]
    chunk = (n + _NCHUNK - 1) // _NCHUNK
    part = np.zeros(_NCHUNK)
    for b in numba.prange(_NCHUNK):
        t = 0.0
        for e in range(b * chunk, min(n, (b + 1) * chunk)):
            t += g[e] - x[e]
        part[b] = t
    # a sequential loop: ``part.sum()`` here would become a parallel reduction whose
    # grouping, hence rounding, depends on the thread count
    total = 0.0
    for b in range(_NCHUNK):
        total += part[b]
    return total


@numba.njit(parallel=True, cache=True)
def _record(
    x: np.ndarray,
    g: np.ndarray,
    mean: float,
    f_prev: np.ndarray,
    g_prev: np.ndarray,
    df: np.ndarray,
    dg: np.ndarray,
    slot: int,
    push: bool,
    count: int,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - jitted
    """One pass over the vectors: with ``f = g - x - mean`` (the centred residual),

    * if ``push``: ``df[slot] = f - f_prev``, ``dg[slot] = g - g_prev`` (stored float32);
    * ``f_prev = f``, ``g_prev = g``;
    * returns ``(df[l] . df[slot], df[l] . f)`` for ``l < count`` (the new Gram row and
      the right-hand side of the least-squares problem), from the stored values.

    The first six lags' dot products are summed in scalar accumulators, which stay in
    registers (an accumulator array is kept in memory: 35% slower at ``k = 50``); further
    lags go through arrays. Each dot product sums in the order of ``e`` within a chunk
    either way.
    """
    n = x.shape[0]
    depth = df.shape[0]
    chunk = (n + _NCHUNK - 1) // _NCHUNK
    part = np.zeros((_NCHUNK, 2, depth))
    for b in numba.prange(_NCHUNK):
        g0 = g1 = g2 = g3 = g4 = g5 = r0 = r1 = r2 = r3 = r4 = r5 = 0.0
        gram = np.zeros(depth)
        rhs = np.zeros(depth)
        for e in range(b * chunk, min(n, (b + 1) * chunk)):
            f = g[e] - x[e] - mean
            if push:
                d = np.float32(f - f_prev[e])
                df[slot, e] = d
                dg[slot, e] = np.float32(g[e] - g_prev[e])
                dd = np.float64(d)
                if count > 0:
                    g0 += np.float64(df[0, e]) * dd
                    r0 += np.float64(df[0, e]) * f
                if count > 1:
                    g1 += np.float64(df[1, e]) * dd
                    r1 += np.float64(df[1, e]) * f
                if count > 2:
                    g2 += np.float64(df[2, e]) * dd
                    r2 += np.float64(df[2, e]) * f
                if count > 3:
                    g3 += np.float64(df[3, e]) * dd
                    r3 += np.float64(df[3, e]) * f
                if count > 4:
                    g4 += np.float64(df[4, e]) * dd
                    r4 += np.float64(df[4, e]) * f
                if count > 5:
                    g5 += np.float64(df[5, e]) * dd
                    r5 += np.float64(df[5, e]) * f
                for lag in range(6, count):
                    stored = np.float64(df[lag, e])
                    gram[lag] += stored * dd
                    rhs[lag] += stored * f
            f_prev[e] = f
            g_prev[e] = g[e]
        head = ((g0, r0), (g1, r1), (g2, r2), (g3, r3), (g4, r4), (g5, r5))
        for lag in range(min(6, depth)):
            gram[lag], rhs[lag] = head[lag]
        part[b, 0] = gram
        part[b, 1] = rhs
    total = np.zeros((2, depth))
    for b in range(_NCHUNK):
        total += part[b]
    return total[0], total[1]


@numba.njit(parallel=True, cache=True)
def _combine(
    g: np.ndarray, dg: np.ndarray, coef: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - jitted
    """``out = g - sum_l coef[l] dg[l]`` (``out`` may alias the iterate, not ``g``)."""
    n = g.shape[0]
    count = coef.shape[0]
    for e in numba.prange(n):
        t = g[e]
        for lag in range(count):
            t -= coef[lag] * np.float64(dg[lag, e])
        out[e] = t


class Anderson:
    """Type-II Anderson mixing for ``x <- g(x)`` (Walker & Ni 2011), depth ``depth``.

    Ring buffers of residual and image differences and an incrementally updated Gram
    matrix keep a step at ``O(depth N)``, in two fused passes over the vectors. The
    differences are stored as float32: they only steer the extrapolation (a rounded
    coefficient moves the next iterate slightly; the caller's certificate is evaluated at
    whatever iterate comes out), and the history is the largest buffer of value
    iteration at large ``k``.
    """

    def __init__(self, depth: int, size: int) -> None:
        self.depth = depth
        self.size = size
        rows = max(depth, 1)
        self.df = np.empty((rows, size), dtype=np.float32)
        self.dg = np.empty((rows, size), dtype=np.float32)
        self.gram = np.zeros((rows, rows))
        self.f_prev = np.empty(size)
        self.g_prev = np.empty(size)
        self.count = 0  # columns filled
        self.pos = 0  # next column to overwrite
        self.has_prev = False

    @staticmethod
    def bytes_needed(depth: int, size: int) -> int:
        """Memory of the buffers of an ``Anderson(depth, size)``."""
        return 0 if depth == 0 else size * (8 * depth + 16)

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
        threads = numba.get_num_threads()
        if self.size < PARALLEL_MIN_SIZE:
            numba.set_num_threads(1)
        try:
            self._step(x, g, out)
        finally:
            numba.set_num_threads(threads)

    def _step(
        self, x: np.ndarray, g: np.ndarray, out: np.ndarray
    ) -> None:  # The span certificate ignores constant shifts, so the residual is centred:
        # mixing then targets the non-constant modes only.
        mean = _residual_sum(x, g) / x.size
        i = self.pos
        push = self.has_prev
        count = min(self.count + 1, self.depth) if push else 0
        row, rhs = _record(x, g, mean, self.f_prev, self.g_prev, self.df, self.dg, i, push, count)
        self.has_prev = True
        if push:
            self.count = count
            self.pos = (i + 1) % self.depth
            self.gram[i, :count] = row[:count]
            self.gram[:count, i] = row[:count]
        if self.count == 0:
            out[...] = g
            return
        n = self.count
        gram = self.gram[:n, :n]
        # a small ridge keeps the normal equations solvable when the history is degenerate
        ridge = 1e-12 * max(1.0, float(np.trace(gram)))
        coef = np.linalg.solve(gram + ridge * np.eye(n), rhs[:n])
        _combine(g, self.dg[:n], coef, out)
