"""Reference dispatchers for a learned local policy: uniform-random and best constant.

A trained pair should beat both at the same ``k`` (SPEC §7 figures use them as reference
lines). All candidates are evaluated with the same seed (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from altmarl.game import TabularGame
from altmarl.policies import GlobalPolicy, LocalPolicy, UniformGlobalPolicy
from altmarl.simulate import evaluate


@dataclass(frozen=True)
class Baselines:
    """Mean returns of the uniform-random dispatcher and of every constant dispatcher."""

    uniform: float
    constant: tuple[float, ...]

    @property
    def best_constant(self) -> float:
        return max(self.constant)

    @property
    def best_constant_action(self) -> int:
        return int(np.argmax(self.constant))


def dispatcher_baselines(
    game: TabularGame,
    local_policy: LocalPolicy,
    *,
    n: int,
    k: int,
    rollouts: int = 50,
    horizon: int = 100,
    seed: int | np.random.SeedSequence = 0,
    simulator: str = "counts",
) -> Baselines:
    """Evaluate the reference dispatchers against ``local_policy`` by online execution.

    Every dispatcher sees the same random numbers (a fresh generator from ``seed`` each).
    """

    def run(pg):
        rng = np.random.default_rng(seed)
        return evaluate(
            game,
            pg,
            local_policy,
            n=n,
            k=k,
            rollouts=rollouts,
            horizon=horizon,
            seed=rng,
            simulator=simulator,  # type: ignore[arg-type]
        ).mean

    uniform = run(UniformGlobalPolicy(game.num_ag))
    constant = []
    for a in range(game.num_ag):
        pg = GlobalPolicy.constant(
            a,
            num_global_states=game.num_sg,
            num_actions=game.num_ag,
            k=k,
            num_local_states=game.num_sl,
        )
        constant.append(run(pg))
    return Baselines(uniform, tuple(constant))
