"""Federated learning (``scenarios/federation.py``, the paper's Example 2.6): entries by hand."""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.scenarios import get_scenario


def test_federated_entries_by_hand():
    g = get_scenario("federated")
    # rule indices: FedAvg 0, damped 1, resync 2; work: 1 epoch 0, 5 epochs 1, prox 2
    # a stale client doing 5 epochs under FedAvg: up 0.35 (stays at the top), down 0 + 0.10
    np.testing.assert_allclose(g.P_l[3, 0, 1], [0, 0, 0.10, 0.90])
    # under resync: restart at 0 w.p. 0.6, else up 0.15 / down 0.10 (prox, no pull)
    np.testing.assert_allclose(g.P_l[1, 2, 2], [0.6 + 0.4 * 0.10, 0.4 * 0.75, 0.4 * 0.15, 0])
    # r_l = 2 + w (gain q - harm (1 - q)): in sync, 5 epochs, FedAvg = 2 + 2 = 4
    assert g.r_l[0, 0, 1] == pytest.approx(4.0)
    assert g.r_l[3, 0, 1] == pytest.approx(0.0)  # the worst case is exactly 0
    assert g.r_l[2, 1, 2] == pytest.approx(2 + 1.5 * (0.6 / 3 - 0.3 * 2 / 3))
    np.testing.assert_allclose(g.r_l[:, 2, :], 2.0)  # resync discards the round
    np.testing.assert_allclose(g.r_g, [[1, 1, 0]] * 3)
    np.testing.assert_allclose(g.P_g[0, 2], [0.2, 0, 0.8])
