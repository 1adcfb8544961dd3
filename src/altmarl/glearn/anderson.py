"""Anderson mixing for fixed-point iterations ``x <- g(x)`` (Walker & Ni 2011)."""

from __future__ import annotations

import numpy as np

#: Restarts after which mixing that keeps failing is switched off (plain iteration).
MAX_ANDERSON_RESETS = 20


class Anderson:
    """Type-II Anderson mixing for ``x <- g(x)`` (Walker & Ni 2011), depth ``depth``.

    Ring buffers of residual and image differences and an incrementally updated Gram
    matrix keep a step at ``O(depth N)`` without reallocating ``N``-vectors.
    """

    def __init__(self, depth: int, size: int) -> None:
        self.depth = depth
        self.size = size
        self.df = np.empty((depth, size)) if depth else np.empty((0, size))
        self.dg = np.empty_like(self.df)
        self.gram = np.zeros((depth, depth))
        self.f_prev = np.empty(size)
        self.g_prev = np.empty(size)
        self.f = np.empty(size)
        self.count = 0  # columns filled
        self.pos = 0  # next column to overwrite
        self.has_prev = False

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
        f = self.f
        np.subtract(g, x, out=f)
        # The span certificate ignores constant shifts, so the residual is centred:
        # mixing then targets the non-constant modes only.
        f -= f.mean()
        if self.has_prev:
            i = self.pos
            np.subtract(f, self.f_prev, out=self.df[i])
            np.subtract(g, self.g_prev, out=self.dg[i])
            self.count = min(self.count + 1, self.depth)
            self.pos = (i + 1) % self.depth
            row = self.df[: self.count] @ self.df[i]
            self.gram[i, : self.count] = row
            self.gram[: self.count, i] = row
        self.f_prev[...] = f
        self.g_prev[...] = g
        self.has_prev = True
        if self.count == 0:
            out[...] = g
            return
        n = self.count
        gram = self.gram[:n, :n]
        # a small ridge keeps the normal equations solvable when the history is degenerate
        ridge = 1e-12 * max(1.0, float(np.trace(gram)))
        coef = np.linalg.solve(gram + ridge * np.eye(n), self.df[:n] @ f)
        np.subtract(g, coef @ self.dg[:n], out=out)
