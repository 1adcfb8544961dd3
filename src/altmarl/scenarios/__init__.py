"""Built-in scenarios (SPEC §7; the paper's Examples 2.5 and 2.6) and random test games.

``warehouse()`` is the G.1 tabular warehouse exactly as SPEC §7 states it;
``federated()`` (Example 2.6, :mod:`altmarl.scenarios.federation`) and ``grid()`` (Example
2.5, :mod:`altmarl.scenarios.power_grid`) are the paper's two motivating systems.
``get_scenario(name)`` is the one entry point (``--scenario NAME``); ``scenario_labels``
names their states and actions for figures. Scenario defaults for the experiment (``n``,
``k`` ...) live in :data:`WAREHOUSE_DEFAULTS`, not in the game, because the game does not
depend on ``n``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.scenarios.federation import federated, federated_labels
from altmarl.scenarios.labels import Labels
from altmarl.scenarios.power_grid import grid, grid_labels

#: Experiment protocol of SPEC §7 G.1.
WAREHOUSE_DEFAULTS = {
    "n": 1000,
    "gamma": 0.95,
    "m": 30,
    "alternations": 10,
    "seeds": 15,
    "rollouts": 50,
    "horizon": 100,
}


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def warehouse(num_zones: int = 5, gamma: float = 0.95, dirichlet_alpha: float = 0.3) -> TabularGame:
    """The G.1 warehouse (SPEC §7): a dispatcher steering the priority zone, robots on a ring.

    ``|S_g| = |S_l| = |A_g| = num_zones``; local actions (stay, up, down).

    * ``P_g(.|s_g, a_g) = softmax(0.1 + 3.0 [s' = a_g] + 0.5 [s' = s_g])``
    * ``P_l(.|s_l, s_g, a_l) = softmax(0.1 + 3.5 [s' = s_l] + 1.5 [s' = s_l+1, up]
      + 1.5 [s' = s_l-1, down] + 0.3 [s' = s_g])`` (zones mod ``num_zones``)
    * ``r_g = 1``; ``r_l = 10`` if ``s_l = s_g`` else ``2 / (1 + d)`` with ``d`` the circular
      distance, plus ``(0, +0.5, -0.3)`` for (stay, up, down).
    * start: ``s_g`` uniform; local states i.i.d. from ``Dirichlet(0.3, ..., 0.3)`` per episode.
    """
    Z = int(num_zones)
    if Z < 3:
        raise AltmarlError(f"num_zones = {Z} must be >= 3 (a ring with distinct up/down)")
    zones = np.arange(Z)
    eye = np.eye(Z)
    # P_g[s_g, a_g, s']
    lg = 0.1 + 3.0 * eye[None, :, :] + 0.5 * eye[:, None, :]
    P_g = _softmax(lg)
    # P_l[s_l, s_g, a_l, s']
    up = eye[(zones + 1) % Z]  # up[s_l, s'] = [s' = s_l + 1]
    down = eye[(zones - 1) % Z]
    move = np.stack([np.zeros((Z, Z)), 1.5 * up, 1.5 * down], axis=1)  # [s_l, a_l, s']
    ll = 0.1 + 3.5 * eye[:, None, None, :] + move[:, None, :, :] + 0.3 * eye[None, :, None, :]
    P_l = _softmax(ll)
    r_g = np.ones((Z, Z))
    diff = np.abs(zones[:, None] - zones[None, :])
    dist = np.minimum(diff, Z - diff)  # circular distance [s_l, s_g]
    base = np.where(dist == 0, 10.0, 2.0 / (1.0 + dist))
    action_term = np.array([0.0, 0.5, -0.3])
    r_l = base[:, :, None] + action_term[None, None, :]
    return TabularGame.from_arrays(
        P_g=P_g,
        P_l=P_l,
        r_g=r_g,
        r_l=r_l,
        gamma=gamma,
        dirichlet_alpha=dirichlet_alpha,
        name="warehouse",
    )


def random_game(
    seed: int | np.random.Generator,
    *,
    num_global_states: int = 2,
    num_global_actions: int = 2,
    num_local_states: int = 2,
    num_local_actions: int = 2,
    gamma: float = 0.9,
    concentration: float = 1.0,
) -> TabularGame:
    """A random tabular game (Dirichlet rows, uniform rewards in [0, 1]) for tests."""
    rng = np.random.default_rng(seed)
    S_g, A_g, S_l, A_l = num_global_states, num_global_actions, num_local_states, num_local_actions
    P_g = rng.dirichlet(np.full(S_g, concentration), size=(S_g, A_g))
    P_l = rng.dirichlet(np.full(S_l, concentration), size=(S_l, S_g, A_l))
    return TabularGame.from_arrays(
        P_g=P_g,
        P_l=P_l,
        r_g=rng.random((S_g, A_g)),
        r_l=rng.random((S_l, S_g, A_l)),
        gamma=gamma,
        rho_g=rng.dirichlet(np.ones(S_g)),
        rho_l=rng.dirichlet(np.ones(S_l)),
        name="random",
    )


def two_zones(stay: tuple[float, float] = (0.9, 0.95), gamma: float = 0.9) -> TabularGame:
    """A tiny game with exact certificates for every ``k <= n`` (``examples/custom_game.py``
    builds the same game from functions).

    Two zones; ``P_g(.|s_g, a_g)`` puts 0.9 on ``a_g`` (the dispatcher steers the priority);
    a robot stays in zone ``s`` with probability ``stay[s]`` whatever it does; working
    (``a_l = 1``) earns 1 when the robot's zone has priority (``s_l = s_g``), idling earns
    0.3; ``r_g = 0``. Local states start i.i.d. from ``Dirichlet(0.5, 0.5)`` per episode, so
    where the majority is matters and seeing more robots helps the dispatcher.
    """
    P_g = np.full((2, 2, 2), 0.1)
    P_g[:, 0, 0] = P_g[:, 1, 1] = 0.9
    P_l = np.empty((2, 2, 2, 2))
    for s in range(2):
        P_l[s, :, :, s] = stay[s]
        P_l[s, :, :, 1 - s] = 1.0 - stay[s]
    r_l = np.full((2, 2, 2), 0.3)
    r_l[:, :, 1] = np.eye(2)
    return TabularGame.from_arrays(
        P_g=P_g,
        P_l=P_l,
        r_g=np.zeros((2, 2)),
        r_l=r_l,
        gamma=gamma,
        dirichlet_alpha=0.5,
        name="two-zones",
    )


def warehouse_labels(num_zones: int = 5) -> Labels:
    zones = tuple(f"zone {z}" for z in range(num_zones))
    return Labels(
        global_states=zones,
        global_actions=zones,
        local_states=zones,
        local_actions=("stay", "up", "down"),
        global_agent="dispatcher",
        local_agents="robots",
        action_is_state=True,
    )


def two_zones_labels() -> Labels:
    zones = ("zone 0", "zone 1")
    return Labels(
        global_states=tuple(f"priority {z}" for z in zones),
        global_actions=tuple(f"steer to {z}" for z in zones),
        local_states=zones,
        local_actions=("idle", "work"),
        global_agent="dispatcher",
        local_agents="robots",
        action_is_state=True,
    )


SCENARIOS: dict[str, Callable[[], TabularGame]] = {
    "warehouse": warehouse,
    "federated": federated,
    "grid": grid,
    "two-zones": two_zones,
}
_LABELS: dict[str, Callable[[], Labels]] = {
    "warehouse": warehouse_labels,
    "federated": federated_labels,
    "grid": grid_labels,
    "two-zones": two_zones_labels,
}


def get_scenario(name: str) -> TabularGame:
    """A built-in scenario by name (``--scenario``)."""
    try:
        return SCENARIOS[name]()
    except KeyError:
        raise AltmarlError(
            f"--scenario {name!r} is unknown; choose from {', '.join(sorted(SCENARIOS))}"
        ) from None


def scenario_labels(game: TabularGame) -> Labels:
    """Names of ``game``'s states and actions: a built-in scenario's own (matched by name
    and sizes), generic index names otherwise (a game file)."""
    sizes = (game.num_sg, game.num_ag, game.num_sl, game.num_al)
    if game.name in _LABELS:
        labels = _LABELS[game.name]()
        if labels.fits(*sizes):
            return labels
    return Labels.generic(*sizes)
