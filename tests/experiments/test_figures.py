"""The study's figures (``experiments/figures.py``): the inverse-square-root fit."""

from __future__ import annotations

import numpy as np
import pytest


def test_fit_inverse_sqrt_recovers_the_constant():
    from altmarl.experiments.figures import fit_inverse_sqrt

    ks = np.array([1, 5, 10, 20, 30, 50])
    C, r2 = fit_inverse_sqrt(ks, 2.5 / np.sqrt(ks))
    assert C == pytest.approx(2.5) and r2 == pytest.approx(1.0)
    # least squares by hand on two points: C = sum(y x) / sum(x^2) with x = 1/sqrt(k)
    C, _ = fit_inverse_sqrt(np.array([1, 4]), np.array([1.0, 1.0]))
    assert C == pytest.approx((1 + 0.5) / (1 + 0.25))
