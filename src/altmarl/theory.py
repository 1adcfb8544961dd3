"""Closed-form quantities of the G-LEARN analysis (SPEC §3).

* :func:`q_table_size` -- ``Z``, the number of Q-entries in either parameterization.
* :func:`bellman_noise_bound` -- Lemma 4.3 / B.35: with probability ``>= 1 - delta``,
  ``||Qhat_{k,m} - Q_k||_inf <= gamma r_max sqrt(ln(2Z/delta) / (2m)) / (1-gamma)^2``.
* :func:`sample_size` -- the ``m`` that makes that bound ``<= eps`` (Lemma 4.3 inverted).
* :func:`subsampling_gap` -- the ``O(r_max/(1-gamma)^2 sqrt(log(k)/k))`` term of
  Theorem 4.4, with the constants written out below.
* :func:`greedy_loss` -- a policy greedy for a Q within ``eps`` of a fixed point loses at
  most ``2 eps / (1-gamma)`` (the ``O(eps)`` term of Theorem 4.4).
* :func:`best_response_gap` -- the sum of the last two: the bound Theorem 4.4 puts on
  ``V(pi*, pi_l) - V(pihat_{k,m}, pi_l)`` under online execution.

Every function is pure and checks its arguments (``AltmarlError`` naming the argument).
"""

from __future__ import annotations

import math

from altmarl.errors import AltmarlError

PARAMETERIZATIONS = ("mean-field", "standard")


def _check_gamma(gamma: float) -> float:
    gamma = float(gamma)
    if not 0.0 < gamma < 1.0:
        raise AltmarlError(f"gamma = {gamma} must lie in the open interval (0, 1)")
    return gamma


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise AltmarlError(f"{name} = {value} must be a finite number > 0")
    return value


def _check_delta(delta: float) -> float:
    delta = float(delta)
    if not 0.0 < delta < 1.0:
        raise AltmarlError(f"delta = {delta} must lie in the open interval (0, 1)")
    return delta


def _check_int(name: str, value: int, minimum: int = 1) -> int:
    if int(value) != value or value < minimum:
        raise AltmarlError(f"{name} = {value} must be an integer >= {minimum}")
    return int(value)


def count_space_size(k: int, num_local_states: int) -> int:
    """``|C_k| = binom(k + |S_l| - 1, |S_l| - 1)`` (SPEC §2)."""
    k = _check_int("k", k, 0)
    L = _check_int("num_local_states", num_local_states)
    return math.comb(k + L - 1, L - 1)


def q_table_size(
    k: int,
    num_global_states: int,
    num_global_actions: int,
    num_local_states: int,
    parameterization: str = "mean-field",
) -> int:
    """``Z``, the number of Q-entries (SPEC §3, Lemma 4.3).

    ``|S_g| |A_g| |S_l|^k`` in the standard parameterization, ``|S_g| |A_g| |C_k|`` in
    the mean-field one. Returned as an exact Python int (it can be astronomically large).
    """
    S_g = _check_int("num_global_states", num_global_states)
    A_g = _check_int("num_global_actions", num_global_actions)
    L = _check_int("num_local_states", num_local_states)
    k = _check_int("k", k, 0)
    if parameterization == "mean-field":
        inputs = math.comb(k + L - 1, L - 1)
    elif parameterization == "standard":
        inputs = L**k
    else:
        raise AltmarlError(
            f"parameterization {parameterization!r} must be one of {PARAMETERIZATIONS}"
        )
    return S_g * A_g * inputs


def _log_term(table_entries: int, delta: float) -> float:
    # math.log on the int keeps precision for Z beyond float range (standard, big k).
    return math.log(2) + math.log(int(table_entries)) - math.log(delta)


def bellman_noise_bound(
    m: int, delta: float, *, gamma: float, r_max: float, table_entries: int
) -> float:
    """Lemma 4.3 (B.35): ``gamma r_max sqrt(ln(2Z/delta)/(2m)) / (1-gamma)^2``.

    With probability ``>= 1 - delta`` over the samples of ``That_{k,m}``,
    ``||Qhat_{k,m} - Q_k||_inf`` is at most this. The proof: Hoeffding for each of the
    ``Z`` entries of ``That Q_k - T_k Q_k`` (range ``gamma r_max/(1-gamma)``), a union
    bound over entries, and ``1/(1-gamma)`` from the contraction.
    """
    m = _check_int("m", m)
    delta = _check_delta(delta)
    gamma = _check_gamma(gamma)
    r_max = _check_positive("r_max", r_max)
    Z = _check_int("table_entries", table_entries)
    return gamma * r_max * math.sqrt(_log_term(Z, delta) / (2 * m)) / (1 - gamma) ** 2


def sample_size(eps: float, delta: float, *, gamma: float, r_max: float, table_entries: int) -> int:
    """Smallest ``m`` with ``m >= gamma^2 r_max^2 ln(2Z/delta) / (2 eps^2 (1-gamma)^4)``
    (Lemma 4.3): then ``||Qhat_{k,m} - Q_k||_inf <= eps`` with probability ``>= 1-delta``."""
    eps = _check_positive("eps", eps)
    delta = _check_delta(delta)
    gamma = _check_gamma(gamma)
    r_max = _check_positive("r_max", r_max)
    Z = _check_int("table_entries", table_entries)
    m = gamma**2 * r_max**2 * _log_term(Z, delta) / (2 * eps**2 * (1 - gamma) ** 4)
    return max(1, math.ceil(m))


def subsampling_gap(
    k: int,
    n: int,
    *,
    gamma: float,
    r_max: float,
    num_local_states: int,
    num_global_actions: int,
) -> float:
    """The subsampling term of Theorem 4.4, ``O(r_max/(1-gamma)^2 sqrt(log k / k))``.

    Constants (ours; the paper's extraction lost them). We use the form of the
    mean-field subsampling bound of Anand & Qu (2024, Thm 4.4), on which the paper's
    Theorem 4.4 builds:

        2 r_max / (1-gamma)^2 * ( sqrt( (n-k+1)/(2 n k) * ln(2 |S_l| |A_g| sqrt(k)) )
                                  + 1/sqrt(k) )

    The square root is the Hoeffding/Serfling deviation of a ``k``-subsample's
    empirical distribution from the population's (the ``(n-k+1)/n`` factor is the
    without-replacement correction, so the term vanishes at ``k = n``), union-bounded
    over ``|S_l| |A_g|`` and ``sqrt(k)`` failure level; the ``1/sqrt(k)`` term pays for the
    failure event at the full value range. ``2/(1-gamma)`` turns a per-step
    Q-error into a policy loss and ``r_max/(1-gamma)`` is the Lipschitz scale of Q in
    the distribution. ``k = n`` leaves only the failure term.
    """
    k = _check_int("k", k)
    n = _check_int("n", n)
    if k > n:
        raise AltmarlError(f"k = {k} must be <= n = {n}")
    gamma = _check_gamma(gamma)
    r_max = _check_positive("r_max", r_max)
    L = _check_int("num_local_states", num_local_states)
    A_g = _check_int("num_global_actions", num_global_actions)
    dev = math.sqrt((n - k + 1) / (2 * n * k) * math.log(2 * L * A_g * math.sqrt(k)))
    return 2 * r_max / (1 - gamma) ** 2 * (dev + 1 / math.sqrt(k))


def greedy_loss(eps: float, *, gamma: float) -> float:
    """``2 eps / (1-gamma)``: a policy greedy for ``Q`` with ``||Q - Q*||_inf <= eps`` is
    that close to optimal (Singh & Yee 1994; the ``O(eps)`` term of Theorem 4.4)."""
    gamma = _check_gamma(gamma)
    if not (eps >= 0 and math.isfinite(eps)):
        raise AltmarlError(f"eps = {eps} must be a finite number >= 0")
    return 2 * float(eps) / (1 - gamma)


def best_response_gap(
    k: int,
    n: int,
    *,
    gamma: float,
    r_max: float,
    num_local_states: int,
    num_global_actions: int,
    q_error: float = 0.0,
) -> float:
    """Theorem 4.4: ``subsampling_gap + greedy_loss(q_error)``.

    ``q_error`` is a bound on ``||Qhat - Q_k||_inf`` (e.g. :func:`bellman_noise_bound`
    plus the value-iteration stopping error); ``0`` for the exact operator solved exactly.
    """
    return subsampling_gap(
        k,
        n,
        gamma=gamma,
        r_max=r_max,
        num_local_states=num_local_states,
        num_global_actions=num_global_actions,
    ) + greedy_loss(q_error, gamma=gamma)
