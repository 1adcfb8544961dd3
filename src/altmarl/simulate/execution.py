"""Online execution (Algorithm 5) of a policy pair by a named simulator: :func:`evaluate`."""

from __future__ import annotations

from typing import Literal

import numpy as np

from altmarl.counts import MAX_POPULATION
from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.memory import check_memory
from altmarl.policies import GlobalActor, GlobalPolicy, LocalPolicy, check_pair_fits_game
from altmarl.seeding import Seed
from altmarl.simulate.agent_simulator import AgentSimulator
from altmarl.simulate.count_simulator import CountSimulator
from altmarl.simulate.rollouts import SIMULATORS, Rollouts, Simulator

SimulatorName = Literal["counts", "agents"]


def get_simulator(name: str) -> Simulator:
    if name == "counts":
        return CountSimulator()
    if name == "agents":
        return AgentSimulator()
    raise AltmarlError(f"--simulator {name!r} must be one of {', '.join(SIMULATORS)}")


def rollout_bytes(game: TabularGame, rollouts: int, horizon: int, k: int, record: bool) -> int:
    """Bytes held while simulating ``rollouts`` in parallel: per rollout the counts, the
    ``[L, A_l, L]`` moves of a step (with their multinomial's temporaries) and a subsample of
    up to ``k`` indices; with ``record``, ``horizon`` steps of trajectories."""
    L, A = game.num_sl, game.num_al
    per_rollout = 8 * (3 * L * A * L + 4 * L + 16 + min(k, 1 << 20))
    recorded = 8 * horizon * (L + 3) if record else 0
    return rollouts * (per_rollout + recorded)


def evaluate(
    game: TabularGame,
    global_policy: GlobalActor,
    local_policy: LocalPolicy,
    *,
    n: int,
    k: int,
    rollouts: int = 50,
    horizon: int = 100,
    seed: Seed = 0,
    simulator: SimulatorName | Simulator = "counts",
    record: bool = False,
) -> Rollouts:
    """Online execution (Algorithm 5) of ``(pi_g, pi_l)`` with ``n`` agents, subsample ``k``.

    Returns per-rollout discounted returns over ``horizon`` steps and, with ``record``,
    per-step trajectories (occupancy fractions, ``s_g``, ``a_g``, true population mode).
    """
    n, k, rollouts, horizon = int(n), int(k), int(rollouts), int(horizon)
    if n < 1:
        raise AltmarlError(f"n = {n} must be >= 1")
    if not 0 <= k <= n:
        raise AltmarlError(f"k = {k} must satisfy 0 <= k <= n = {n}")
    if rollouts < 1:
        raise AltmarlError(f"rollouts = {rollouts} must be >= 1")
    if horizon < 1:
        raise AltmarlError(f"horizon = {horizon} must be >= 1")
    if n > MAX_POPULATION:
        raise AltmarlError(f"--n {n} is over 10**18, the largest population supported")
    check_memory(
        rollout_bytes(game, rollouts, horizon, k, record),
        f"online execution of --rollouts {rollouts} x --horizon {horizon}",
        hint="lower --rollouts (or --horizon with recorded trajectories)",
    )
    if isinstance(global_policy, GlobalPolicy):
        check_pair_fits_game(global_policy, local_policy, game)
        if global_policy.k != k:
            raise AltmarlError(f"k = {k} differs from the global policy's k = {global_policy.k}")
    else:
        local_policy.check_game(game.num_sl, game.num_sg, game.num_al)
    sim = get_simulator(simulator) if isinstance(simulator, str) else simulator
    rng = np.random.default_rng(seed)
    return sim.run(game, global_policy, local_policy, n, k, rollouts, horizon, rng, record)
