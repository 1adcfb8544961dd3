"""One Bellman sweep of G-LEARN's adapted operators (SPEC §3), the step that
:func:`~altmarl.glearn.value_iteration.value_iteration` repeats: ``V -> (G(V), Q(V))``
with ``Q(V) = r + gamma P_g E[V(next)]`` and ``G(V) = max_a Q(V)``. Sampled operators
(``That_{k,m}``) run the jitted gather :func:`_sweep_sampled`, optionally from a float32
copy of ``V``; exact ones (``T_k``) use the operator's expectation."""

from __future__ import annotations

import numba
import numpy as np

from altmarl.glearn.operator import AdaptedOperator


@numba.njit(parallel=True, cache=True)
def _sweep_sampled(
    order: np.ndarray,
    next_index: np.ndarray,
    reward_local: np.ndarray,
    reward_global: np.ndarray,
    p_g: np.ndarray,
    scale: float,
    vt: np.ndarray,
    vt_out: np.ndarray,
    q: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    write_q: bool,
) -> None:  # pragma: no cover
    """One sweep of ``That_{k,m}`` on ``V``: ``Q = r + gamma P_g mean_j V[s', next]``.

    order [X]: the inputs ``x`` in the order to visit them (any permutation gives the same
    result); next_index [S, X, m]; reward_local [S, X] and reward_global [S, A], the parts of
    ``r_Delta``; p_g [S, A, S]; ``scale = gamma / m``; vt [X, S] holds ``V[s', x']``
    transposed (float64 or float32) so that one gather reads every ``s'`` of a sampled
    ``x'``; ``vt_out [X, S]`` (float64) gets ``G(V) = max_a Q``, and with ``write_q``
    ``q [S, X, A]`` gets ``Q`` (left alone otherwise: the span rule needs only ``V``).
    Per chunk ``b``: ``lo[b, 0]``/``hi[b, 0]`` are min/max of ``q_new - q_old``,
    ``lo[b, 1]``/``hi[b, 1]`` min/max of ``vt_out - vt``.

    The gathered row's first eight values (``s' < 8``) are summed into eight scalar
    accumulators and the ``P_g`` products read them directly: everything per ``(s, x)``
    stays in registers, 1.3-1.9x faster than an accumulator array, which the compiler must
    keep in memory because it cannot rule out that it aliases ``vt`` (and 10-25% faster
    again than storing the eight sums into such an array for the products, measured at
    ``k = 50``). With more than eight global states the further blocks of eight go through
    ``acc``. Every sum runs in a fixed order (``j``, then ``s'``), so the result does not
    depend on the thread count.

    Kept whole on purpose: it is G-LEARN's hot loop, tuned as one loop nest (one pass per
    chunk yields ``Q``, ``G(V)`` and both bounds, the accumulators in registers); it reads
    top to bottom as one sweep, and a split into ``@njit`` helpers would have to be timed
    again against it.
    """
    S, X, m = next_index.shape
    A = reward_global.shape[1]
    nchunk = lo.shape[0]
    chunk = (X + nchunk - 1) // nchunk
    for b in numba.prange(nchunk):
        start = b * chunk
        stop = min(X, start + chunk)
        acc = np.zeros(S + 8)
        qlo = np.inf
        qhi = -np.inf
        vlo = np.inf
        vhi = -np.inf
        for pos in range(start, stop):
            x = order[pos]
            for s in range(S):
                a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
                for j in range(m):
                    r = next_index[s, x, j]
                    a0 += vt[r, 0]
                    if S > 1:
                        a1 += vt[r, 1]
                    if S > 2:
                        a2 += vt[r, 2]
                    if S > 3:
                        a3 += vt[r, 3]
                    if S > 4:
                        a4 += vt[r, 4]
                    if S > 5:
                        a5 += vt[r, 5]
                    if S > 6:
                        a6 += vt[r, 6]
                    if S > 7:
                        a7 += vt[r, 7]
                for c0 in range(8, S, 8):
                    for t in range(c0, min(S, c0 + 8)):
                        acc[t] = 0.0
                    for j in range(m):
                        r = next_index[s, x, j]
                        for t in range(c0, min(S, c0 + 8)):
                            acc[t] += vt[r, t]
                best = -np.inf
                r_local = reward_local[s, x]
                for a in range(A):
                    p = p_g[s, a]
                    tot = p[0] * a0
                    if S > 1:
                        tot += p[1] * a1
                    if S > 2:
                        tot += p[2] * a2
                    if S > 3:
                        tot += p[3] * a3
                    if S > 4:
                        tot += p[4] * a4
                    if S > 5:
                        tot += p[5] * a5
                    if S > 6:
                        tot += p[6] * a6
                    if S > 7:
                        tot += p[7] * a7
                    for t in range(8, S):
                        tot += p[t] * acc[t]
                    val = (reward_global[s, a] + r_local) + scale * tot
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


@numba.njit(parallel=True, cache=True)
def _round_to_float32(
    v: np.ndarray, table: np.ndarray
) -> tuple[float, float, float]:  # pragma: no cover - jitted
    """``table = float32(v - offset)`` and ``v = table + offset`` (in place) with ``offset``
    the midrange of ``v``; returns ``(min, max, offset)`` of the ``v`` it was given. Two
    passes (numpy needs five); min and max are exact, so the result does not depend on the
    thread count."""
    n = v.shape[0]
    lo = np.inf
    hi = -np.inf
    for e in numba.prange(n):
        lo = min(lo, v[e])
        hi = max(hi, v[e])
    offset = (lo + hi) / 2.0
    for e in numba.prange(n):
        t = np.float32(v[e] - offset)
        table[e] = t
        v[e] = np.float64(t) + offset  # exact widening, then one float64 rounding
    return lo, hi, offset


class Sweeper:
    """``V -> (G(V), Q(V))`` for an operator: ``Q(V) = r + gamma P_g E[V(next)]``,
    ``G(V) = max_a Q(V)``. Holds the buffers; ``V`` is stored transposed ``[X, S]``."""

    def __init__(self, op: AdaptedOperator, q: np.ndarray) -> None:
        self.op = op
        self.q = q
        self.sampled = op.next_index is not None
        X = op.shape[1]
        nchunk = max(1, min(X, 64 * numba.get_num_threads()))
        self.lo = np.empty((nchunk, 2))
        self.hi = np.empty((nchunk, 2))
        self.order = op.sweep_order if op.sweep_order is not None else np.arange(X)
        self.table32: np.ndarray | None = None  # the float32 copy of V, made on first use
        #: ``2^-24 max|V - offset|`` of the last float32 sweep: the size of its rounding
        self.rounding = 0.0

    def _round(self, vt: np.ndarray) -> tuple[np.ndarray, float]:
        """``V - offset`` rounded to float32, with ``offset`` the midrange of ``V``;
        ``vt`` is overwritten by the rounded iterate ``table + offset``."""
        if self.table32 is None:
            self.table32 = np.empty(vt.shape, dtype=np.float32)
        lo, hi, offset = _round_to_float32(vt.reshape(-1), self.table32.reshape(-1))
        self.rounding = float(np.finfo(np.float32).eps) / 2.0 * (hi - lo) / 2.0
        return self.table32, offset

    def __call__(
        self, vt: np.ndarray, vt_out: np.ndarray, write_q: bool = True, single: bool = False
    ) -> tuple[float, float, float, float]:
        """Writes ``G(V)`` into ``vt_out`` and, with ``write_q``, ``Q(V)`` into ``self.q``;
        returns min/max of ``Q_new - Q_old`` (0 without ``write_q``) and of ``G(V) - V``.

        ``single`` (sampled operators): gather ``V`` from a float32 copy of ``V - offset``
        and return ``G`` of that rounded ``V`` (``vt`` is overwritten by it): the certificate
        of the span rule holds for any ``V``, as long as ``G(V) - V`` is measured on the
        ``V`` actually used. ``G(V + c) = G(V) + gamma c`` restores the offset.
        """
        op = self.op
        if op.next_index is not None:
            offset = 0.0
            table = vt
            if single:
                assert not write_q, "Q' is formed from a float64 V"
                table, offset = self._round(vt)
            _sweep_sampled(
                self.order,
                op.next_index,
                op.reward_local,
                op.reward_global,
                op.p_g,
                op.gamma / op.next_index.shape[2],
                table,
                vt_out,
                self.q,
                self.lo,
                self.hi,
                write_q,
            )
            lo, hi = self.lo.min(axis=0), self.hi.max(axis=0)
            if offset:
                vt_out += op.gamma * offset
                lo[1] -= (1.0 - op.gamma) * offset
                hi[1] -= (1.0 - op.gamma) * offset
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
