"""Shared by tests/glearn/ and tests/test_rewards.py: a tiny random game with a random local
policy, built from a seed."""

from __future__ import annotations

import numpy as np

from altmarl.policies import LocalPolicy
from altmarl.scenarios import random_game


def tiny(seed=0, S_g=2, A_g=2, S_l=3, A_l=2, gamma=0.8):
    game = random_game(
        seed,
        num_global_states=S_g,
        num_global_actions=A_g,
        num_local_states=S_l,
        num_local_actions=A_l,
        gamma=gamma,
    )
    rng = np.random.default_rng(100 + seed)
    local = LocalPolicy(rng.dirichlet(np.ones(A_l), size=(S_l, S_g)))
    return game, local
