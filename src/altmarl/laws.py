"""Probability laws over count vectors ``C_m`` (SPEC §2, §6): the distributions that the
exact count chain, the chained MDPs and the certificate are built from.

* :func:`multinomial_pmf` -- counts of ``m`` agents drawn i.i.d. from one law;
* :func:`dirichlet_multinomial_pmf` -- the same with the law drawn from a Dirichlet;
* :func:`initial_count_distribution` -- the game's initial counts of ``n`` agents;
* :func:`hypergeometric_matrix` -- the counts of a uniform ``k``-subsample of ``N``
  (multivariate hypergeometric, the subsample of online execution);
* :func:`convolve_counts` -- the sum of independent count vectors;
* :func:`ordered_tuple_prob` -- one ordered tuple of local states under the initializer.

Every pmf is over :class:`~altmarl.counts.CountSpace` rank order.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import gammaln

from altmarl.counts import CountSpace
from altmarl.game import TabularGame
from altmarl.memory import check_memory


def _log_multinomial_coef(counts: np.ndarray) -> np.ndarray:
    """``log(m! / prod_j c_j!)`` for count vectors ``[..., L]``."""
    m = counts.sum(axis=-1)
    return np.asarray(gammaln(m + 1.0) - gammaln(counts + 1.0).sum(axis=-1))


def multinomial_pmf(space: CountSpace, probs: np.ndarray) -> np.ndarray:
    """``P(c)`` of ``c ~ Multinomial(space.k, probs)`` for every ``c`` in rank order.

    probs: ``[..., L]`` -> ``[..., |C|]``.
    """
    c = space.all()  # [C, L]
    probs = np.asarray(probs, dtype=np.float64)
    with np.errstate(divide="ignore"):
        logp = np.log(probs)
    # 0 * log 0 = 0: a zero-probability state contributes only when its count is 0 (the
    # product is nan there, and np.where discards it)
    with np.errstate(invalid="ignore"):
        terms = np.where(c == 0, 0.0, c * logp[..., None, :])
    return np.asarray(np.exp(_log_multinomial_coef(c) + terms.sum(axis=-1)))


def dirichlet_multinomial_pmf(space: CountSpace, alpha: np.ndarray) -> np.ndarray:
    """``P(c)`` of counts of ``space.k`` agents drawn i.i.d. from ``rho ~ Dirichlet(alpha)``."""
    c = space.all().astype(np.float64)
    a0 = alpha.sum()
    m = float(space.k)
    log = (
        _log_multinomial_coef(c)
        + gammaln(a0)
        - gammaln(m + a0)
        + (gammaln(c + alpha) - gammaln(alpha)).sum(axis=-1)
    )
    return np.asarray(np.exp(log))


def initial_count_distribution(game: TabularGame, n: int) -> np.ndarray:
    """Distribution of the initial counts ``N(0)`` over ``C_n`` (rank order)."""
    space = CountSpace(n, game.num_sl)
    if game.dirichlet_alpha is not None:
        return dirichlet_multinomial_pmf(space, game.dirichlet_alpha)
    assert game.rho_l is not None  # a game has one of the two initializers
    return multinomial_pmf(space, game.rho_l)


def hypergeometric_matrix(n: int, k: int, num_states: int) -> np.ndarray:
    """``H[N, c] = prod_j binom(N_j, c_j) / binom(n, k)``: subsample law, ``[|C_n|, |C_k|]``."""
    big, small = CountSpace(n, num_states), CountSpace(k, num_states)
    check_memory(
        big.size * small.size * 8, f"the hypergeometric table |C_n| x |C_k| (n={n}, k={k})"
    )
    N = big.all().astype(np.float64)[:, None, :]
    c = small.all().astype(np.float64)[None, :, :]
    ok = (c <= N).all(axis=-1)
    with np.errstate(invalid="ignore"):
        logb = gammaln(N + 1) - gammaln(c + 1) - gammaln(np.maximum(N - c, 0) + 1)
    log_total = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    return np.where(ok, np.exp(logb.sum(axis=-1) - log_total), 0.0)


@lru_cache(maxsize=256)
def _sum_ranks(a: int, b: int, num_states: int) -> np.ndarray:
    """``rank_{a+b}(x + y)`` for every ``x in C_a`` and ``y in C_b``: ``[|C_a|, |C_b|]``."""
    x = CountSpace(a, num_states).all()
    y = CountSpace(b, num_states).all()
    return CountSpace(a + b, num_states).rank(x[:, None, :] + y[None, :, :])


def convolve_counts(groups: list[tuple[int, np.ndarray]], num_states: int) -> np.ndarray:
    """Law over ``C_total`` of a sum of independent count vectors.

    groups: ``(m, pmf over C_m)`` pairs; returns the pmf over ``C_{sum m}`` (rank order).
    """
    dist: np.ndarray = np.ones(1)
    total = 0
    for m, pmf in groups:
        if m == 0:
            continue
        joint = dist[:, None] * pmf[None, :]
        ranks = _sum_ranks(total, m, num_states)
        total += m
        dist = np.bincount(
            ranks.ravel(), weights=joint.ravel(), minlength=CountSpace(total, num_states).size
        )
    return dist


def ordered_tuple_prob(game: TabularGame, counts: np.ndarray) -> np.ndarray:
    """Probability of one particular ordered tuple of local states with ``counts[..., L]``
    under the game's initializer (i.i.d. ``rho_l``, or Dirichlet-multinomial)."""
    c = np.asarray(counts, dtype=np.float64)
    if game.dirichlet_alpha is not None:
        a = game.dirichlet_alpha
        k = c.sum(axis=-1)
        logp = gammaln(a + c).sum(-1) - gammaln(a).sum() + gammaln(a.sum()) - gammaln(a.sum() + k)
        return np.asarray(np.exp(logp))
    rho = game.rho_l
    assert rho is not None  # a game has one of the two initializers
    with np.errstate(divide="ignore"):
        logr = np.log(rho)
    return np.asarray(np.exp(np.where(c > 0, c * logr, 0.0).sum(-1)))
