"""Anderson mixing (``glearn/anderson.py``): the step solves its least-squares problem."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from altmarl.glearn import anderson as anderson_module
from altmarl.glearn.anderson import Anderson


@pytest.mark.parametrize("depth", [3, 8])
def test_anderson_step_solves_its_least_squares_problem(depth):
    """Type-II Anderson mixing (the fused kernels): x+ = g - sum_l a_l dg_l with a minimising
    ||f - sum_l a_l df_l||_2 (plus the ridge) over the last `depth` differences of centred
    residuals f = g(x) - x - mean and images g, stored as float32 (so the ring buffer and
    the incremental Gram matrix are checked). Replayed with numpy on a linear map; only the
    order of the sums differs. Depth 8 also runs the lags past the kernel's six register
    accumulators."""
    rng = np.random.default_rng(0)
    n = 400
    M = rng.normal(0, 0.9 / np.sqrt(n), (n, n))
    b = rng.normal(size=n)
    acc = Anderson(depth, n)
    x = rng.normal(size=n)
    hist: list[tuple[np.ndarray, np.ndarray]] = []
    f_prev = g_prev = None
    for _ in range(12):
        g = M @ x + b
        f = g - x - (g - x).mean()
        if f_prev is not None:
            df = (f - f_prev).astype(np.float32).astype(np.float64)
            dg = (g - g_prev).astype(np.float32).astype(np.float64)
            hist = [*hist, (df, dg)][-depth:]
        f_prev, g_prev = f, g
        if hist:
            DF = np.array([h[0] for h in hist])
            DG = np.array([h[1] for h in hist])
            gram = DF @ DF.T
            ridge = 1e-12 * max(1.0, np.trace(gram))
            coef = np.linalg.solve(gram + ridge * np.eye(len(hist)), DF @ f)
            expect = g - coef @ DG
        else:
            expect = g
        out = np.empty(n)
        acc.step(x, g, out)
        np.testing.assert_allclose(out, expect, rtol=1e-9, atol=1e-9)
        x = out


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_anderson_steps_do_not_depend_on_the_thread_count(monkeypatch):
    """Its parallel sums run in a fixed order, so 1 and 2 threads give the same bits (a
    ``part.sum()`` inside the parallel kernel became numba's per-thread reduction: 4e-16
    apart after seven steps)."""
    monkeypatch.setattr(anderson_module, "PARALLEL_MIN_SIZE", 0)
    rng = np.random.default_rng(3)
    n = 100_000
    images = [rng.random(n) for _ in range(8)]
    before = numba.get_num_threads()

    def iterate(threads: int) -> np.ndarray:
        numba.set_num_threads(threads)
        acc, out, x = Anderson(5, n), np.empty(n), images[0].copy()
        for g in images[1:]:
            acc.step(x, 0.5 * g + 0.3 * x, out)
            x = out.copy()
        return x

    try:
        assert np.array_equal(iterate(1), iterate(2))
    finally:
        numba.set_num_threads(before)
