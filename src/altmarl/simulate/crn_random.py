"""The random numbers of the CRN simulator (:mod:`altmarl.simulate.crn`), counter-based.

Draw ``counter`` of the rollout with ``key`` is the uniform :func:`_uniform` ``(key,
counter)``, a splitmix64 hash: no state is carried from draw to draw, so a draw one pair
makes and another does not never shifts later numbers. Every other law is a transform of
such uniforms: an exact binomial from ONE uniform (:func:`_binomial`, inversion from the
mode), normal and gamma draws for Dirichlet initial laws. :func:`rollout_keys` derives
rollout ``r``'s key from the evaluation seed and ``r`` alone.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@nb.njit(inline="always", cache=True)
def _mix(z):
    """splitmix64's finaliser: a bijective scramble of 64 bits."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@nb.njit(inline="always", cache=True)
def _uniform(key, counter):
    """The uniform on ``[0, 1)`` of draw ``counter`` of the rollout with ``key``."""
    z = _mix(key + (counter + np.uint64(1)) * _GOLDEN)
    return np.float64(z >> _S11) * _INV53


@nb.njit(inline="always", cache=True)
def _logfact(x, lf):
    if x < lf.shape[0]:
        return lf[x]
    return math.lgamma(x + 1.0)


@nb.njit(cache=True)
def _binomial(N, q, lq, l1q, odds, u, lf):
    """An exact ``Binomial(N, q)`` draw from ONE uniform ``u`` (``lq = log q``,
    ``l1q = log(1-q)``, ``odds = q/(1-q)``): the search starts at the mode and walks
    outwards, alternately up and down, subtracting each point's mass from ``u`` (Kemp's
    inversion from the mode). Cost ``O(sd)``; the same ``u`` gives the same draw, and
    nearby laws give nearby draws (the coupling UPDATE relies on)."""
    if N <= 0 or q <= 0.0:
        return 0
    if q >= 1.0:
        return N
    m = int((N + 1) * q)
    if m > N:
        m = N
    pm = math.exp(_logfact(N, lf) - _logfact(m, lf) - _logfact(N - m, lf) + m * lq + (N - m) * l1q)
    u -= pm
    if u < 0.0:
        return m
    pu = pm
    pd = pm
    x = m
    y = m
    while x < N or y > 0:
        if x < N:
            pu *= (N - x) / (x + 1.0) * odds
            x += 1
            u -= pu
            if u < 0.0:
                return x
        if y > 0:
            pd *= y / ((N - y + 1.0) * odds)
            y -= 1
            u -= pd
            if u < 0.0:
                return y
    return m  # u was within round-off of 1


@nb.njit(inline="always", cache=True)
def _binomial_q(N, q, u, lf):
    """:func:`_binomial` with the logarithms computed here."""
    if N <= 0 or q <= 0.0:
        return 0
    if q >= 1.0:
        return N
    return _binomial(N, q, math.log(q), math.log1p(-q), q / (1.0 - q), u, lf)


@nb.njit(cache=True)
def _normal(key, counter):
    """A standard normal (Box-Muller) from two uniforms; returns ``(z, next counter)``."""
    u1 = _uniform(key, counter)
    u2 = _uniform(key, counter + np.uint64(1))
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2), counter + np.uint64(
        2
    )


@nb.njit(cache=True)
def _gamma(a, key, counter):
    """A ``Gamma(a, 1)`` draw (Marsaglia-Tsang; ``a < 1`` boosted by ``U^(1/a)``)."""
    boost = 1.0
    if a < 1.0:
        boost = _uniform(key, counter) ** (1.0 / a)
        counter += np.uint64(1)
        a += 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        z, counter = _normal(key, counter)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        u = _uniform(key, counter)
        counter += np.uint64(1)
        if math.log(1.0 - u) < 0.5 * z * z + d - d * v + d * math.log(v):
            return d * v * boost, counter


def rollout_keys(seed: int | np.random.SeedSequence, start: int, stop: int) -> np.ndarray:
    """The keys of rollouts ``start .. stop-1`` of the evaluation seeded by ``seed``
    (``uint64 [stop - start]``); rollout ``r``'s key depends on ``seed`` and ``r`` only."""
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    base = np.uint64(seq.generate_state(1, dtype=np.uint64)[0])
    r = np.arange(start, stop, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = base + (r + np.uint64(1)) * _GOLDEN
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)
