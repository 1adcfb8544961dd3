"""Count vectors ``C_k`` and ordered ``k``-tuples of local states (SPEC §2).

``C_k = {c in N^L : sum(c) = k}`` with ``L = |S_l|`` has
``|C_k| = binom(k + L - 1, L - 1)`` elements. A count vector is ranked through the
combinatorial number system: with the "bar positions" of stars and bars
``b_j = c_0 + ... + c_j + j`` (``j = 0..L-2``, strictly increasing in ``[0, k+L-2]``),
``rank(c) = sum_j binom(b_j, j + 1)``, a bijection ``C_k -> [0, |C_k|)``. Ranking and
unranking are vectorised over any leading axes and need only a
``(k + L) x L`` table of binomials, never a ``(k+1)^L`` lookup table.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import ArrayLike

from altmarl.errors import AltmarlError, MemoryBudgetError
from altmarl.memory import check_memory

#: The largest population ``n`` (the simulators hold counts of ``n`` agents in int64).
MAX_POPULATION = 10**18


def check_k(k: int, name: str = "k") -> int:
    """``k`` as an int, refusing anything but an integer >= 1 (the number of sampled agents)."""
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise AltmarlError(f"{name} = {k} must be an integer >= 1 (the number of sampled agents)")
    return int(k)


def binom_table(k: int, num_states: int) -> np.ndarray:
    """``table[x, j] = C(x, j)`` for ``x < k + L``, ``j < L`` (int64, capped at ``2**62``).

    The only table the combinatorial number system needs: every entry that ranking or
    unranking a count vector of ``C_k`` reads is at most ``|C_k| < 2**62``, so the cap
    never changes a rank.
    """
    L = int(num_states)
    top = int(k) + L
    table = np.zeros((top, max(L, 1)), dtype=np.int64)
    for x in range(top):
        for j in range(L):
            c = math.comb(x, j)
            table[x, j] = c if c < 2**62 else 2**62
    return table


@numba.njit(cache=True)
def rank_count(c: np.ndarray, binom: np.ndarray) -> np.int64:  # pragma: no cover - jitted
    """Rank of one count vector ``c [L]`` in the combinatorial number system of
    :meth:`CountSpace.rank` (``binom`` from :func:`binom_table`), for jitted kernels."""
    r = np.int64(0)
    bar = np.int64(-1)
    for j in range(c.shape[0] - 1):
        bar += c[j] + 1
        r += binom[bar, j + 1]
    return r


@numba.njit(cache=True)
def _all_counts(k: int, L: int, size: int) -> np.ndarray:  # pragma: no cover - jitted
    """Every count vector of ``C_k`` in rank order, ``[size, L]`` (``L >= 2``).

    Walks the bar positions ``b_0 < ... < b_{L-2}`` in colexicographic order, which is rank
    order: the next combination raises the lowest bar that can move and resets the ones
    below it. One pass, no search (``unrank`` of every rank bisects per bar).
    """
    out = np.empty((size, L), dtype=np.int64)
    bars = np.arange(L - 1)
    top = k + L - 2  # the largest bar position
    for r in range(size):
        prev = -1
        for j in range(L - 1):
            out[r, j] = bars[j] - prev - 1
            prev = bars[j]
        out[r, L - 1] = top - prev
        j = 0
        while j < L - 2 and bars[j] + 1 == bars[j + 1]:
            j += 1
        bars[j] += 1
        for i in range(j):
            bars[i] = i
    return out


class CountSpace:
    """The set ``C_k`` of count vectors of ``k`` agents over ``num_states`` local states.

    Parameters
    ----------
    k : number of agents counted (the subsample size), ``k >= 0``.
    num_states : ``L = |S_l| >= 1``.
    """

    def __init__(self, k: int, num_states: int) -> None:
        if int(k) != k or k < 0:
            raise AltmarlError(f"k = {k} must be a non-negative integer")
        if int(num_states) != num_states or num_states < 1:
            raise AltmarlError(f"num_states = {num_states} must be a positive integer")
        self.k = int(k)
        self.num_states = L = int(num_states)
        size = math.comb(self.k + L - 1, L - 1)
        if size >= 2**62:
            raise MemoryBudgetError(
                f"|C_k| = binom({self.k + L - 1}, {L - 1}) = {size} does not fit in a 64-bit "
                "rank; lower k or the number of local states"
            )
        self.size = size
        check_memory((self.k + L) * L * 8, f"the rank table of C_k (k={self.k}, |S_l|={L})")
        self._binom = binom_table(self.k, L)

    def __repr__(self) -> str:
        return f"CountSpace(k={self.k}, num_states={self.num_states}, size={self.size})"

    def __len__(self) -> int:
        return self.size

    @property
    def binom(self) -> np.ndarray:
        """The ``[k + L, L]`` binomial table the ranks are computed with (read-only)."""
        view = self._binom.view()
        view.setflags(write=False)
        return view

    def rank(self, counts: ArrayLike) -> np.ndarray:
        """Ranks of count vectors ``counts[..., L]`` (each summing to ``k``) -> ``[...]`` int64."""
        c = np.asarray(counts, dtype=np.int64)
        L = self.num_states
        if L == 1:
            return np.zeros(c.shape[:-1], dtype=np.int64)
        bars = np.cumsum(c[..., : L - 1], axis=-1) + np.arange(L - 1)
        return np.asarray(self._binom[bars, np.arange(1, L)].sum(axis=-1), dtype=np.int64)

    def unrank(self, ranks: ArrayLike) -> np.ndarray:
        """Count vectors ``[..., L]`` of the given ranks (inverse of :meth:`rank`)."""
        r = np.array(ranks, dtype=np.int64, copy=True)
        L = self.num_states
        out = np.empty((*r.shape, L), dtype=np.int64)
        if L == 1:
            out[..., 0] = self.k
            return out
        if r.size and (r.min() < 0 or r.max() >= self.size):
            raise AltmarlError(f"rank out of range [0, {self.size}) for {self!r}")
        bars = np.empty((*r.shape, L - 1), dtype=np.int64)
        for j in range(L - 2, -1, -1):
            col = self._binom[:, j + 1]
            b = np.searchsorted(col, r, side="right") - 1
            bars[..., j] = b
            r -= col[b]
        prev = np.concatenate([np.full((*r.shape, 1), -1, np.int64), bars], axis=-1)
        out[..., : L - 1] = np.diff(prev, axis=-1) - 1
        out[..., L - 1] = self.k - (bars[..., -1] - (L - 2))
        return out

    def all(self) -> np.ndarray:
        """Every count vector in rank order, ``[|C_k|, L]``."""
        check_memory(self.size * self.num_states * 8, f"the list of all {self.size} count vectors")
        if self.num_states == 1:
            return np.full((self.size, 1), self.k, dtype=np.int64)
        return _all_counts(self.k, self.num_states, self.size)

    def table_bytes(self, entries_per_count: int, itemsize: int = 8) -> int:
        """Bytes of a table with ``entries_per_count`` entries per count vector."""
        return self.size * int(entries_per_count) * int(itemsize)

    def require_table(
        self,
        entries_per_count: int,
        itemsize: int = 8,
        what: str = "a table",
        budget: int | None = None,
    ) -> None:
        """Refuse with a clear message when ``|C_k| x entries_per_count`` would not fit."""
        check_memory(
            self.table_bytes(entries_per_count, itemsize),
            f"{what} over C_k (k={self.k}, |S_l|={self.num_states}, |C_k|={self.size}, "
            f"{entries_per_count} entries each, {itemsize} B/entry)",
            budget,
            hint="lower k",
        )


class TupleSpace:
    """Ordered ``k``-tuples of local states (standard parameterization, ``L^k`` inputs).

    Index of a tuple ``(s_1, ..., s_k)`` is ``sum_i s_i L^(k-1-i)`` (base-``L`` digits).
    """

    def __init__(self, k: int, num_states: int) -> None:
        if int(k) != k or k < 0:
            raise AltmarlError(f"k = {k} must be a non-negative integer")
        self.k = int(k)
        self.num_states = int(num_states)
        size = self.num_states**self.k
        if size >= 2**62:
            raise MemoryBudgetError(
                f"|S_l|^k = {self.num_states}^{self.k} tuples do not fit a 64-bit index; use the "
                "mean-field parameterization"
            )
        self.size: int = size
        self._weights = self.num_states ** np.arange(self.k - 1, -1, -1, dtype=np.int64)

    def __len__(self) -> int:
        return self.size

    def index(self, tuples: ArrayLike) -> np.ndarray:
        """Index of tuples ``[..., k]`` -> ``[...]``."""
        return np.asarray(tuples, dtype=np.int64) @ self._weights

    def tuples(self, index: ArrayLike) -> np.ndarray:
        """Tuples ``[..., k]`` of the given indices."""
        idx = np.asarray(index, dtype=np.int64)
        return (idx[..., None] // self._weights) % self.num_states

    def all(self) -> np.ndarray:
        check_memory(self.size * self.k * 8, f"the list of all {self.size} k-tuples")
        return self.tuples(np.arange(self.size, dtype=np.int64))

    def counts(self, index: ArrayLike) -> np.ndarray:
        """Count vectors ``[..., L]`` of the tuples with the given indices."""
        t = self.tuples(index)
        return np.asarray((t[..., None] == np.arange(self.num_states)).sum(axis=-2))


def random_tuples(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random ordering of the multiset each count vector describes.

    ``counts``: ``[R, L]`` all summing to the same ``k`` -> ``[R, k]`` local states.
    Used to feed a standard-parameterization policy from a subsample given as counts.
    """
    counts = np.asarray(counts, dtype=np.int64)
    R, L = counts.shape
    k = int(counts[0].sum()) if R else 0
    sorted_states = np.repeat(np.tile(np.arange(L), R), counts.ravel()).reshape(R, k)
    order = np.argsort(rng.random((R, k)), axis=1)
    return np.take_along_axis(sorted_states, order, axis=1)
