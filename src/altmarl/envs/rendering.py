"""``rgb_array`` frames of a population over zones, shared by every environment.

One column per zone (a local state of a tabular game, a bin of the continuous warehouse);
the grey bar's height is the share of local agents in the zone, the global state (the
priority zone, or the dispatcher's position) is a red band, the global agent's last action
a blue tick under its zone, and the agent a single-agent environment controls a green dot.
Pure numpy: no plotting library is needed to render.
"""

from __future__ import annotations

import numpy as np

COLUMN_WIDTH = 32
HEIGHT = 96
_TICK = 6
_BACKGROUND = (255, 255, 255)
_BAR = (150, 150, 150)
_GLOBAL = (214, 39, 40)
_ACTION = (31, 119, 180)
_AGENT = (44, 160, 44)


def population_frame(
    occupancy: np.ndarray,
    global_position: float,
    *,
    global_action: int | None = None,
    agent_position: float | None = None,
) -> np.ndarray:
    """An ``[HEIGHT, COLUMN_WIDTH * Z, 3]`` uint8 frame.

    occupancy : ``[Z]`` shares of the local agents in each zone (summing to 1).
    global_position : the global state in zone coordinates, ``[0, Z)`` (a tabular ``s_g``
        is drawn over the middle of its zone: pass ``s_g + 0.5``).
    global_action : the zone the global agent's last action points at, if any.
    agent_position : the controlled agent's position in zone coordinates, if any.
    """
    occ = np.asarray(occupancy, dtype=float)
    Z = occ.shape[0]
    W = COLUMN_WIDTH * Z
    frame = np.empty((HEIGHT, W, 3), dtype=np.uint8)
    frame[:] = _BACKGROUND
    plot = HEIGHT - _TICK  # bars stand on the tick row
    for z in range(Z):
        h = round(float(np.clip(occ[z], 0.0, 1.0)) * (plot - 2))
        lo = z * COLUMN_WIDTH
        frame[plot - h : plot, lo + 3 : lo + COLUMN_WIDTH - 3] = _BAR
    x = int(np.clip(global_position / Z * W, 0, W - 2))
    frame[:plot, x : x + 2] = _GLOBAL
    if global_action is not None:
        lo = int(global_action) * COLUMN_WIDTH
        frame[plot:, lo + 3 : lo + COLUMN_WIDTH - 3] = _ACTION
    if agent_position is not None:
        cx = int(np.clip(agent_position / Z * W, 3, W - 4))
        frame[4:10, cx - 3 : cx + 3] = _AGENT
    return frame
