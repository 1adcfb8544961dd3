"""Shared by tests/llearn/ and tests/cli/test_llearn.py: tiny games with a random dispatcher,
and the exact value of a shared local policy on the k-chain."""

from __future__ import annotations

import numpy as np

from altmarl.counts import CountSpace
from altmarl.llearn.chained import k_chained_mdp
from altmarl.llearn.mdp import evaluate_restricted
from altmarl.policies import GlobalPolicy
from altmarl.scenarios import random_game

K, T = 2, 6


def tiny_setup(seed: int):
    game = random_game(seed)
    rng = np.random.default_rng(seed + 100)
    pi_g = GlobalPolicy(rng.integers(0, 2, (2, CountSpace(K, 2).size)), K, 2, 2)
    return game, pi_g


def shared_value(game, pi_g, pi_l, k=K, horizon=T) -> float:
    chain = k_chained_mdp(game, pi_g, k, horizon)
    return evaluate_restricted(chain.mdp, chain.shared_table(pi_l))
