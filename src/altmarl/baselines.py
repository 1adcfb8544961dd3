"""Reference dispatchers for a learned local policy: uniform-random and best constant.

A trained pair should beat both at the same ``k`` (SPEC §7 figures use them as reference
lines). All candidates are evaluated with the same seed (common random numbers).

The best constant dispatcher is a policy, so it is chosen before it is evaluated: on
rollouts from an independent ``select_seed``. Picking the maximum of the ``|A_g|``
constants on the evaluation rollouts themselves would report the luckiest of them
(the winner's curse: on the warehouse the ring is symmetric, and the in-sample maximum
mostly tells which zone those rollouts' random starting crowds favoured).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from altmarl.game import TabularGame
from altmarl.policies import GlobalPolicy, LocalPolicy, UniformGlobalPolicy
from altmarl.simulate import evaluate


@dataclass(frozen=True)
class Baselines:
    """Mean returns of the uniform-random dispatcher and of every constant dispatcher, and
    the constant action chosen on independent rollouts (``best_constant_action``)."""

    uniform: float
    constant: tuple[float, ...]
    best_constant_action: int

    @property
    def best_constant(self) -> float:
        """The value of the constant dispatcher chosen on independent rollouts."""
        return self.constant[self.best_constant_action]

    @property
    def max_constant(self) -> float:
        """The largest constant-dispatcher value on the evaluation rollouts (optimistic)."""
        return max(self.constant)


def dispatcher_baselines(
    game: TabularGame,
    local_policy: LocalPolicy,
    *,
    n: int,
    k: int,
    rollouts: int = 50,
    horizon: int = 100,
    seed: int | np.random.SeedSequence = 0,
    select_seed: int | np.random.SeedSequence | None = None,
    simulator: str = "counts",
) -> Baselines:
    """Evaluate the reference dispatchers against ``local_policy`` by online execution.

    Every dispatcher sees the same random numbers (a fresh generator from ``seed`` each).
    The best constant is the one with the highest mean on rollouts from ``select_seed``
    (default: a stream spawned from ``seed``, independent of the evaluation's).
    """
    if select_seed is None:
        base = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        # a child key that base.spawn() would reach only after 2**32 - 1 children
        select_seed = np.random.SeedSequence(base.entropy, spawn_key=(*base.spawn_key, 2**32 - 1))

    def run(pg, seed=seed):
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
            simulator=simulator,
        ).mean

    uniform = run(UniformGlobalPolicy(game.num_ag))
    constants = [
        GlobalPolicy.constant(
            a,
            num_global_states=game.num_sg,
            num_actions=game.num_ag,
            k=k,
            num_local_states=game.num_sl,
        )
        for a in range(game.num_ag)
    ]
    chosen = int(np.argmax([run(pg, select_seed) for pg in constants]))
    return Baselines(uniform, tuple(run(pg) for pg in constants), chosen)
