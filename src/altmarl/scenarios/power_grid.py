"""Communication-constrained control of a power grid (the paper's Example 2.5).

An operator (the global agent) can read the state of ``k`` of ``n`` generators (the local
agents) per step over a narrow channel and sets a system-wide operating mode; each
generator senses its own stability and the mode, and trades following the command against
keeping itself stable. Every modelling choice is a module constant, and :func:`grid` states
them all.
"""

from __future__ import annotations

import numpy as np

from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.scenarios.labels import Labels

#: Local states: a generator's stability margin (tripped: offline, restarting).
STABILITY_LEVELS = ("stable", "stressed", "critical", "tripped")
#: Global states (the mode in force) and global actions (the mode commanded next).
MODES = ("economy", "balanced", "secure")
#: Local actions.
RESPONSES = ("follow", "self-stabilise")

#: Per-step probability that following the mode's setpoint stresses a generator one level
#: (from critical: it trips), by mode: economy runs units close to their limits.
STRAIN = np.array([0.35, 0.15, 0.05])
#: Per-step probability that a generator recovers one level while following, by mode:
#: the secure mode's reserves carry part of every unit's load.
RELIEF = np.array([0.05, 0.15, 0.30])
#: A self-stabilising generator (local droop control, off the setpoint) is still stressed
#: by tight system margins with ``SELF_STRAIN[mode]``, and recovers with ``RELIEF[mode]``
#: plus ``SELF_BONUS``: it helps itself, but the mode sets how much room it has.
SELF_STRAIN = np.array([0.10, 0.05, 0.0])
SELF_BONUS = 0.25
#: Per-step probability that a tripped generator is back on line (as stable), by mode:
#: the secure mode's reserves support restarts.
RESTART = np.array([0.10, 0.20, 0.40])
#: Value of one unit of output delivered to the system when following, by mode.
VALUE = np.array([4.0, 2.5, 1.0])
#: Value of output when self-stabilising (off the dispatch schedule).
SELF_VALUE = 0.5
#: Output a generator can deliver, by stability level.
OUTPUT = np.array([1.0, 0.8, 0.5, 0.0])
#: A generator's own stability, by level (what it trades against following).
OWN_STABILITY = np.array([1.0, 0.5, 0.0, 0.0])
#: Probability that a commanded mode takes effect this step (the channel is narrow).
COMMAND_REACH = 0.9
#: The operator's reward by mode in force: the reserves a mode holds cost it.
OPERATOR = np.array([1.0, 0.8, 0.2])


def grid_labels() -> Labels:
    return Labels(
        global_states=MODES,
        global_actions=MODES,
        local_states=STABILITY_LEVELS,
        local_actions=RESPONSES,
        global_agent="operator",
        local_agents="generators",
    )


def grid(gamma: float = 0.95, dirichlet_alpha: float = 0.5) -> TabularGame:
    """Communication-constrained grid control (Example 2.5), as a tabular game.

    Sets (SPEC §1): ``S_l`` = a generator's stability (stable, stressed, critical, tripped);
    ``S_g`` = the operating mode in force and ``A_g`` = the mode the operator commands
    (economy, balanced, secure); ``A_l`` = follow the mode's setpoint or self-stabilise
    (local droop control). The operator reads ``k`` generators per step.

    * ``P_g(s_g'|s_g, a_g) = 0.9 [s_g' = a_g] + 0.1 [s_g' = s_g]``: a command gets through
      with probability 0.9, otherwise the mode in force stays.
    * ``P_l(.|s_l, s_g, a_l)`` for a generator on line: following moves it one level toward
      tripping (critical -> tripped) with probability ``strain[s_g] = (0.35, 0.15, 0.05)``
      and one level back with ``relief[s_g] = (0.05, 0.15, 0.30)``; self-stabilising with
      ``self_strain[s_g] = (0.10, 0.05, 0)`` and ``relief[s_g] + 0.25``. A tripped generator
      comes back stable with probability ``restart[s_g] = (0.10, 0.20, 0.40)`` whatever it
      does. Moves past "stable" stay put.
    * ``r_l(s_l, s_g, a_l) = own[s_l] + output[s_l] (value[s_g] [follow] + 0.5 [self])``:
      a generator's own stability ``own = (1, 0.5, 0, 0)`` plus the output ``output = (1, 0.8,
      0.5, 0)`` it can deliver, worth ``value = (4, 2.5, 1)`` on the mode's schedule and 0.5
      off it.
    * ``r_g(s_g, a_g) = operator[s_g] = (1, 0.8, 0.2)``: the reserves a mode holds cost the
      operator.
    * start: the mode in force is uniform; stabilities i.i.d. from a law drawn from
      ``Dirichlet(0.5, ..., 0.5)`` per episode (after a disturbance, fleets differ).

    The operator's problem: economy pays most while the fleet is stable and wears it down;
    the secure mode costs reserves and nurses a stressed fleet back; only the generators it
    reads say which the fleet needs. A generator's problem: follow (the system's value) or
    self-stabilise (its own margin), given its stability and the mode.
    """
    if not 0.0 < gamma < 1.0:
        raise AltmarlError(f"gamma = {gamma} must lie in (0, 1)")
    S_l, S_g, A_l = len(STABILITY_LEVELS), len(MODES), len(RESPONSES)
    tripped = S_l - 1
    eye = np.eye(S_g)
    P_g = COMMAND_REACH * eye[None, :, :] + (1.0 - COMMAND_REACH) * eye[:, None, :]
    P_l = np.zeros((S_l, S_g, A_l, S_l))
    for g in range(S_g):
        P_l[tripped, g, :, 0] = RESTART[g]
        P_l[tripped, g, :, tripped] = 1.0 - RESTART[g]
        for s in range(tripped):
            moves = ((STRAIN[g], RELIEF[g]), (SELF_STRAIN[g], RELIEF[g] + SELF_BONUS))
            for a, (up, down) in enumerate(moves):
                P_l[s, g, a, s + 1] += up
                P_l[s, g, a, max(s - 1, 0)] += down
                P_l[s, g, a, s] += 1.0 - up - down
    follow = np.array([1.0, 0.0])
    pay = VALUE[:, None] * follow[None, :] + SELF_VALUE * (1.0 - follow)[None, :]  # [S_g, A_l]
    r_l = OWN_STABILITY[:, None, None] + OUTPUT[:, None, None] * pay[None, :, :]
    r_g = np.repeat(OPERATOR[:, None], len(MODES), axis=1)
    return TabularGame.from_arrays(
        P_g=P_g,
        P_l=P_l,
        r_g=r_g,
        r_l=r_l,
        gamma=gamma,
        dirichlet_alpha=dirichlet_alpha,
        name="grid",
    )
