"""Small structured games shared by tests (kept beside the tests, built from a seed)."""

from __future__ import annotations

import numpy as np

from altmarl.game import TabularGame


def sticky_two_zones(seed: int) -> TabularGame:
    """Two zones; robots rarely move, whatever they do; a robot that works earns 1 when its
    zone has priority (``s_l = s_g``), idling earns a fixed amount. The dispatcher steers
    the priority, so it must find where the majority is: information (``k``) matters.
    """
    rng = np.random.default_rng(seed)
    P_g = np.full((2, 2, 2), 0.1)
    P_g[:, 0, 0] = P_g[:, 1, 1] = 0.9
    stay = rng.uniform(0.85, 0.98, size=(2, 2, 2))
    P_l = np.zeros((2, 2, 2, 2))
    for s in range(2):
        P_l[s, :, :, s] = stay[s]
        P_l[s, :, :, 1 - s] = 1 - stay[s]
    r_l = np.zeros((2, 2, 2))
    r_l[:, :, 0] = rng.uniform(0.2, 0.5)
    r_l[[0, 1], [0, 1], 1] = 1.0
    return TabularGame.from_arrays(
        P_g=P_g,
        P_l=P_l,
        r_g=rng.uniform(0, 0.1, size=(2, 2)),
        r_l=r_l,
        gamma=0.9,
        dirichlet_alpha=0.5,
        name=f"sticky{seed}",
    )
