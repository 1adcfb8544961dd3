"""Value iteration on G-LEARN's adapted Bellman operators (SPEC §3); eq. 20's greedy policy.

:func:`value_iteration` iterates an :class:`~altmarl.glearn.operator.AdaptedOperator` to its
fixed point. Its default stopping rule ("span", MacQueen's bounds with Anderson mixing)
certifies ``||q - Qhat||_inf <= tol`` and is several times cheaper than the SPEC's plain
rule ``||Q_{t+1} - Q_t||_inf <= tol`` (which only certifies ``gamma tol / (1-gamma)``);
``stopping="residual"`` gives the SPEC's rule exactly. :func:`greedy_policy` implements
eq. 20 (argmax with seeded uniform tie-breaking).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numba
import numpy as np

from altmarl.errors import AltmarlError
from altmarl.glearn.anderson import MAX_ANDERSON_RESETS, Anderson
from altmarl.glearn.bellman_sweep import Sweeper as _Sweeper
from altmarl.glearn.operator import AdaptedOperator
from altmarl.memory import check_memory
from altmarl.seeding import Seed, as_generator

#: The span rule's safeguard restarts Anderson mixing when the span of ``G(V) - V`` grows
#: past this multiple of the best span seen. Mixing does not decrease the span
#: monotonically (it minimises a least-squares residual, not the span): restarting on
#: every increase, as before, kept discarding the history and needed 40-60% more sweeps
#: on the warehouse (k = 30).
SPAN_GROWTH_RESET = 2.0

#: The span rule's float32 phase ends when the span of ``G(V) - V`` falls below this
#: multiple of the float32 rounding of ``V`` (near 2-4 times the rounding, its noise
#: would dominate the span and stall the iteration; see :func:`value_iteration`). At 32
#: the float32 spans follow the float64 ones sweep for sweep on the warehouse (k = 30,
#: 50) and 70-80% of the sweeps at tol = 1e-6 are float32.
FLOAT32_SPAN_FACTOR = 32.0

Stopping = Literal["span", "certified", "residual"]
STOPPING_RULES: tuple[str, ...] = ("span", "certified", "residual")
Precision = Literal["auto", "double", "mixed"]
PRECISIONS: tuple[str, ...] = ("auto", "double", "mixed")


def value_iteration(
    op: AdaptedOperator,
    *,
    tol: float = 1e-6,
    q0: np.ndarray | None = None,
    max_iterations: int = 100_000,
    stopping: Stopping = "span",
    anderson: int = 5,
    precision: Precision = "auto",
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

    ``precision`` (span rule, sampled operators): ``"mixed"`` gathers ``V`` from a float32
    copy of ``V - offset`` (``offset`` its midrange) while the span of ``D`` exceeds
    ``FLOAT32_SPAN_FACTOR`` times that copy's rounding, then from float64. Each float32
    sweep computes ``G`` exactly (float64 sums) of the ROUNDED ``V`` and measures ``D``
    on it, so MacQueen's bounds, which hold for any ``V``, certify it with no extra term;
    ``Q'`` is always formed from a float64 ``V'``. Half the bytes per gather: used by
    ``"auto"`` when the operator carries a tiled ``sweep_order`` (tables larger than the
    caches, where the gathers wait on memory); ``"double"`` never.

    Returns ``(q, info)`` with ``iterations`` (Bellman sweeps, including the final one
    that forms ``Q'``), ``residual`` (``||Q_{t+1} - Q_t||_inf`` of the last sweep; for the
    span rule ``||G(V') - V'||_inf``), ``error_bound`` (certified bound on
    ``||q - Qhat||_inf``), ``converged`` and ``float32_sweeps`` (sweeps that gathered
    float32 values).
    """
    _check_vi_args(tol, stopping, max_iterations, anderson)
    if precision not in PRECISIONS:
        raise AltmarlError(f"precision {precision!r} must be one of {PRECISIONS}")
    mixed = op.next_index is not None and (
        precision == "mixed" or (precision == "auto" and op.sweep_order is not None)
    )
    check_memory(
        iteration_bytes(op.shape, anderson, mixed),
        f"value iteration (k={op.k}, |X|={op.shape[1]})",
        hint="lower k",
    )
    q = _initial_q(op.shape, q0)
    beta = op.gamma / (1.0 - op.gamma)
    sweep = _Sweeper(op, q)
    vt = np.zeros(op.shape[1::-1]) if q0 is None else np.ascontiguousarray(max_over_actions(q).T)
    if stopping != "span":
        info = _plain_iteration(sweep, vt, beta, tol, max_iterations, stopping)
    else:
        info = _span_iteration(sweep, vt, op.gamma, beta, tol, max_iterations, anderson, mixed)
    return q, info


def iteration_bytes(shape: tuple[int, int, int], anderson: int, mixed: bool) -> int:
    """Bytes of :func:`value_iteration`'s buffers on an operator of ``shape = (S_g, |X|,
    A_g)``: ``Q``, ``V`` and ``G(V)``, the float32 copy of ``V`` (``mixed``), Anderson's
    history."""
    S, X, A = shape
    n = S * X
    return n * (8 * A + 16 + (4 if mixed else 0)) + Anderson.bytes_needed(anderson, n)


def _check_vi_args(tol: float, stopping: str, max_iterations: int, anderson: int) -> None:
    if not (tol > 0 and math.isfinite(tol)):
        raise AltmarlError(f"tol = {tol} must be a finite number > 0")
    if stopping not in STOPPING_RULES:
        raise AltmarlError(f"stopping {stopping!r} must be one of {STOPPING_RULES}")
    if int(max_iterations) != max_iterations or max_iterations < 1:
        raise AltmarlError(f"max_iterations = {max_iterations} must be an integer >= 1")
    if int(anderson) != anderson or anderson < 0:
        raise AltmarlError(f"anderson = {anderson} must be an integer >= 0")


def _initial_q(shape: tuple[int, ...], q0: np.ndarray | None) -> np.ndarray:
    """A fresh ``[S_g, |X|, A_g]`` iterate: zeros, or a validated copy of ``q0``."""
    if q0 is None:
        return np.zeros(shape)
    q = np.array(q0, dtype=np.float64)
    if q.shape != shape:
        raise AltmarlError(f"q0 must have shape {shape} (S_g, |X|, A_g), got {q.shape}")
    if not np.isfinite(q).all():
        raise AltmarlError("q0 has non-finite entries")
    return q


def _plain_iteration(
    sweep: _Sweeper,
    vt: np.ndarray,
    beta: float,
    tol: float,
    max_iterations: int,
    stopping: str,
) -> dict[str, Any]:
    """Plain value iteration ``Q <- T Q`` with the ``"residual"`` or ``"certified"`` rule.

    ``sweep.q`` [S_g, |X|, A_g] is updated in place; vt: [|X|, S_g] is ``max_a Q``
    transposed. Returns the info dict of :func:`value_iteration`.
    """
    vt_out = np.empty_like(vt)
    it = 0
    converged = False
    residual = bound = np.inf
    while it < max_iterations:
        it += 1
        q_lo, q_hi, _, _ = sweep(vt, vt_out)
        vt, vt_out = vt_out, vt
        residual = max(abs(q_lo), abs(q_hi))
        bound = beta * residual
        converged = (residual if stopping == "residual" else bound) <= tol
        if converged:
            break
    return {
        "iterations": it,
        "residual": residual,
        "error_bound": bound,
        "converged": converged,
        "float32_sweeps": 0,
    }


def _span_iteration(
    sweep: _Sweeper,
    vt: np.ndarray,
    gamma: float,
    beta: float,
    tol: float,
    max_iterations: int,
    anderson: int,
    mixed: bool = False,
) -> dict[str, Any]:
    """Value iteration on ``V`` with MacQueen's span rule and safeguarded Anderson mixing.

    vt: [|X|, S_g] is ``V`` transposed, overwritten by the iterates; the final sweep
    writes ``Q'`` into ``sweep.q`` [S_g, |X|, A_g]. ``mixed``: float32 gathers first (see
    :func:`value_iteration` for the bounds and the precision). Returns its info dict.
    """
    vt_out = np.empty_like(vt)
    it = 0
    converged = False
    residual = bound = np.inf
    accel = Anderson(anderson, vt.size)
    best_span = np.inf
    resets = 0
    single = mixed
    single_sweeps = 0
    while it < max_iterations:
        it += 1
        # Q is needed only from V' (below), so the sweeps skip writing it
        _, _, d_lo, d_hi = sweep(vt, vt_out, write_q=False, single=single)
        span = d_hi - d_lo
        single_sweeps += single
        if single and span <= FLOAT32_SPAN_FACTOR * sweep.rounding:
            single = False
        bound = gamma * beta * span / 2.0
        shift = beta * (d_hi + d_lo) / 2.0
        if bound <= tol or it >= max_iterations:
            converged = bound <= tol
            # V' = G(V) + beta * mid(D); one more sweep turns it into Q'
            vt_out += shift
            _, _, r_lo, r_hi = sweep(vt_out, vt)
            residual = max(abs(r_lo), abs(r_hi))
            it += 1
            break
        if span > SPAN_GROWTH_RESET * best_span:
            resets += 1
            # mixing that keeps failing is switched off: plain value iteration converges
            accel.reset(disable=resets > MAX_ANDERSON_RESETS)
        best_span = min(best_span, span)
        accel.step(vt.ravel(), vt_out.ravel(), out=vt.ravel())
    return {
        "iterations": it,
        "residual": residual,
        "error_bound": bound,
        "converged": converged,
        "float32_sweeps": single_sweeps,
    }


@numba.njit(parallel=True, cache=True)
def _first_maximisers(
    q: np.ndarray, tie_tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - jitted
    """For ``q [S, X, A]``: ``max_a q``, the first action within ``tie_tol`` of it, and
    whether more than one is (one pass; numpy's reductions over a short last axis make
    four slow strided passes)."""
    S, X, A = q.shape
    best = np.empty((S, X))
    first = np.empty((S, X), dtype=np.int64)
    multi = np.empty((S, X), dtype=np.bool_)
    for x in numba.prange(X):
        for s in range(S):
            top = q[s, x, 0]
            for a in range(1, A):
                top = max(top, q[s, x, a])
            cut = top - tie_tol
            n = 0
            pick = 0
            for a in range(A - 1, -1, -1):
                if q[s, x, a] >= cut:
                    n += 1
                    pick = a
            best[s, x] = top
            first[s, x] = pick
            multi[s, x] = n > 1
    return best, first, multi


def max_over_actions(q: np.ndarray) -> np.ndarray:
    """``max_a Q(s_g, x, a)``, ``[S_g, |X|]`` for ``q [S_g, |X|, A_g]``."""
    return _first_maximisers(np.ascontiguousarray(q, dtype=np.float64), 0.0)[0]


def greedy_policy(
    q: np.ndarray,
    rng: Seed = 0,
    *,
    tie_tol: float = 1e-9,
) -> np.ndarray:
    """``pihat(s_g, x) = argmax_a Q(s_g, x, a)``, ties broken uniformly at random (eq. 20).

    Actions within ``tie_tol`` of the maximum count as tied (floating-point noise on
    exactly equal values); the choice among them is drawn from ``rng``, so it is
    reproducible. ``q: [S_g, |X|, A_g]`` -> int ``[S_g, |X|]``.
    """
    rng = as_generator(rng)
    q = np.ascontiguousarray(q, dtype=np.float64)
    best, table, multi = _first_maximisers(q, float(tie_tol))
    if multi.any():
        tied = q[multi] >= best[multi][:, None] - tie_tol
        keys = rng.random(tied.shape)
        keys[~tied] = -1.0
        table[multi] = np.argmax(keys, axis=-1)
    return table
