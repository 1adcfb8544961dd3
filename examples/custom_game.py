"""Apply altmarl to a new problem: a tiny "two-zone" game built from functions.

Robots rarely move; a robot that works earns 1 when its zone has priority, idling earns
0.3; the dispatcher steers the priority and sees k of the n robots. We train with
ALTERNATING-MARL (exact evaluation, exact G-LEARN operator, planning L-LEARN oracle) and
certify the result exactly, for every k.

    python examples/custom_game.py
"""

from __future__ import annotations

import numpy as np

from altmarl.alternating import AlternatingConfig, AlternatingMARL
from altmarl.certify import certify
from altmarl.game import TabularGame

STAY = np.array([0.9, 0.95])  # per zone: probability that a robot stays put


def global_transition(s_g: int, a_g: int) -> np.ndarray:
    p = np.full(2, 0.1)
    p[a_g] = 0.9
    return p


def local_transition(s_l: int, s_g: int, a_l: int) -> np.ndarray:
    p = np.empty(2)
    p[s_l], p[1 - s_l] = STAY[s_l], 1 - STAY[s_l]
    return p


def local_reward(s_l: int, s_g: int, a_l: int) -> float:
    return float(s_l == s_g) if a_l == 1 else 0.3


game = TabularGame.from_callables(
    num_global_states=2,
    num_global_actions=2,
    num_local_states=2,
    num_local_actions=2,
    global_transition=global_transition,
    local_transition=local_transition,
    global_reward=lambda s_g, a_g: 0.0,
    local_reward=local_reward,
    gamma=0.9,
    dirichlet_alpha=0.5,  # unbalanced populations: where the majority is matters
    name="two-zones",
)

n = 4
print(f"{'k':>2} {'value':>8} {'global gap <=':>14} {'local gap <=':>13} {'alternations':>12}")
for k in range(1, n + 1):
    config = AlternatingConfig(
        k=k, n=n, evaluation="exact", m=None, local_oracle="planning", eps_tol=1e-4
    )
    result = AlternatingMARL(game, config).run(progress=False)
    cert = certify(game, result.global_policy, result.local_policy, n, k)
    print(
        f"{k:>2} {cert.value:>8.4f} {cert.global_gap_upper:>14.4f} "
        f"{cert.local_gap_upper:>13.4f} {len(result.history):>12}"
    )
