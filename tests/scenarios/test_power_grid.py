"""The power grid (``scenarios/power_grid.py``, the paper's Example 2.5): entries by hand."""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.scenarios import get_scenario


def test_grid_entries_by_hand():
    g = get_scenario("grid")
    # modes: economy 0, balanced 1, secure 2; responses: follow 0, self-stabilise 1
    np.testing.assert_allclose(g.P_l[2, 0, 0], [0, 0.05, 0.60, 0.35])  # critical may trip
    np.testing.assert_allclose(g.P_l[1, 2, 1], [0.55, 0.45, 0, 0])
    np.testing.assert_allclose(g.P_l[3, 1, 0], [0.20, 0, 0, 0.80])  # restart
    assert g.r_l[0, 0, 0] == pytest.approx(1 + 4)  # stable, economy, follow
    assert g.r_l[1, 2, 1] == pytest.approx(0.5 + 0.8 * 0.5)
    np.testing.assert_allclose(g.r_l[3], 0.0)  # a tripped generator earns nothing
    np.testing.assert_allclose(g.r_g[:, 0], [1, 0.8, 0.2])
