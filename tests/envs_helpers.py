"""Shared by tests/envs/: a constant dispatcher and a game whose agents follow the global
state."""

from __future__ import annotations

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
pytest.importorskip("pettingzoo")

import altmarl.envs  # noqa: E402,F401  (registers the Gymnasium ids)
from altmarl.game import TabularGame  # noqa: E402
from altmarl.policies import GlobalPolicy  # noqa: E402


def _constant(game: TabularGame, action: int, k: int) -> GlobalPolicy:
    return GlobalPolicy.constant(
        action, num_global_states=game.num_sg, num_actions=game.num_ag, k=k,
        num_local_states=game.num_sl,
    )  # fmt: skip


def follow_global_game() -> TabularGame:
    """Deterministic toy: ``s_g' = a_g``; every local agent jumps to the CURRENT ``s_g``
    whatever it does; ``r_g = a_g``, ``r_l = s_l + a_l``."""
    P_g = np.zeros((3, 3, 3))
    P_g[:, np.arange(3), np.arange(3)] = 1.0
    P_l = np.zeros((3, 3, 2, 3))
    for g in range(3):
        P_l[:, g, :, g] = 1.0
    r_g = np.tile(np.arange(3.0), (3, 1))
    r_l = np.arange(3.0)[:, None, None] + np.array([0.0, 1.0])[None, None, :]
    r_l = np.broadcast_to(r_l, (3, 3, 2))
    return TabularGame.from_arrays(P_g=P_g, P_l=P_l, r_g=r_g, r_l=r_l, gamma=0.9)
