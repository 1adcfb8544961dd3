"""The random draws of one step of online execution (SPEC §6).

The subsample ``Delta_t`` is drawn by Floyd's algorithm on agent indices: an exact uniform
``k``-subset of ``range(n)`` for any ``n`` (numpy's hypergeometric sampler refuses
populations of 10^9 or more), at cost ``O(k^2)`` per rollout.
"""

from __future__ import annotations

import numba as nb
import numpy as np


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
    return bincount_rows(bins, L)


def bincount_rows(values: np.ndarray, L: int) -> np.ndarray:
    R = values.shape[0]
    flat = values + (np.arange(R) * L)[:, None]
    return np.bincount(flat.ravel(), minlength=R * L).reshape(R, L)


def categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of ``probs [R, K]``."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random((probs.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((u >= cdf).sum(axis=1), probs.shape[1] - 1)


def population_mode(counts: np.ndarray) -> np.ndarray:
    return np.argmax(counts, axis=1)
