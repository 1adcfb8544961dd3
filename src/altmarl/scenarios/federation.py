"""Federated optimisation with partial participation (the paper's Example 2.6).

A server (the global agent) coordinates ``n`` clients (the local agents). Each round it
polls the states of ``k`` of them, then broadcasts an aggregation rule; each client picks
its local work from its own state and the rule in force. Every modelling choice is a
module constant, and :func:`federated` states them all.
"""

from __future__ import annotations

import numpy as np

from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.scenarios.labels import Labels

#: Local states: how far a client's model has drifted from the global model.
DRIFT_LEVELS = ("in sync", "mild drift", "drifted", "stale")
#: Global states (the rule in force) and global actions (the rule broadcast next).
RULES = ("FedAvg", "damped", "resync")
#: Local actions: the client's work in a round.
LOCAL_WORK = ("1 epoch", "5 epochs", "5 epochs + prox")

#: Alignment ``q[s_l]`` of a client's update with the global objective, by drift level.
ALIGNMENT = np.array([1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0])
#: Progress ``w[a_l]`` a client's update carries, by local work.
WORK = np.array([1.0, 2.0, 1.5])
#: How much of an aligned update the rule keeps (``gain``) and how much of a misaligned
#: one it lets harm the model (``harm``): FedAvg takes updates at server step 1, damped
#: at 0.5 with momentum, resync restarts clients from the global model and discards the
#: round's work.
GAIN = np.array([1.0, 0.6, 0.0])
HARM = np.array([1.0, 0.3, 0.0])
#: Constant that makes the local reward non-negative (Assumption 2.2): ``w.max() * harm.max()``.
SHIFT = 2.0
#: Per-round probability that the client's drift grows by one level, by local work (its
#: data differ from the others', so even one epoch drifts a little).
DRIFT_UP = np.array([0.10, 0.35, 0.15])
#: Per-round probability that it shrinks by one level, by local work ...
DRIFT_DOWN = np.array([0.05, 0.0, 0.10])
#: ... plus the pull of the rule in force toward the global model (resync: see RESTART).
RULE_PULL = np.array([0.10, 0.05, 0.0])
#: Under resync, the probability that a client restarts from the global model (drift 0).
RESTART = 0.6
#: Probability that a broadcast rule takes effect this round (otherwise the old one stays):
#: with partial participation, the broadcast can miss the round.
BROADCAST_REACH = 0.8
#: Server's reward: 1 per round, minus the bandwidth of broadcasting the full model
#: (a resync round earns the server nothing).
RESYNC_COST = 1.0


def federated_labels() -> Labels:
    return Labels(
        global_states=RULES,
        global_actions=RULES,
        local_states=DRIFT_LEVELS,
        local_actions=LOCAL_WORK,
        global_agent="server",
        local_agents="clients",
    )


def federated(gamma: float = 0.95, dirichlet_alpha: float = 0.5) -> TabularGame:
    """Federated optimisation with partial participation (Example 2.6), as a tabular game.

    Sets (SPEC §1): ``S_l`` = a client's drift level (in sync, mild drift, drifted, stale);
    ``S_g`` = the aggregation rule in force and ``A_g`` = the rule the server broadcasts
    (FedAvg, damped, resync); ``A_l`` = the client's local work (1 epoch, 5 epochs, 5 epochs
    with a proximal term). The server sees the drift levels of ``k`` polled clients.

    * ``P_g(s_g'|s_g, a_g) = 0.8 [s_g' = a_g] + 0.2 [s_g' = s_g]``: a broadcast reaches the
      round with probability 0.8, otherwise the old rule stays in force.
    * ``P_l(.|s_l, s_g, a_l)``: under resync a client restarts at drift 0 with probability
      0.6. Otherwise drift grows by one level with probability ``up[a_l] = (0.10, 0.35,
      0.15)`` (heterogeneous data drift a little even with one epoch, more epochs drift more,
      the proximal term holds most of it back) and shrinks by one with probability
      ``down[a_l] + pull[s_g]``, ``down = (0.05, 0, 0.10)``, ``pull = (0.10, 0.05, 0)``
      (FedAvg re-averages harder than the damped rule); moves past the ends stay put.
    * ``r_l(s_l, s_g, a_l) = 2 + w[a_l] (gain[s_g] q[s_l] - harm[s_g] (1 - q[s_l]))``: the
      round's contribution of a client's update to the shared objective, with alignment
      ``q = (1, 2/3, 1/3, 0)`` by drift, progress ``w = (1, 2, 1.5)`` by local work, and per
      rule ``gain = (1, 0.6, 0)``, ``harm = (1, 0.3, 0)``: FedAvg takes every update at
      full step, good and bad; damping takes less of both; resync discards the round. The
      shift 2 makes the worst case (a stale client's 5 epochs under FedAvg) exactly 0.
    * ``r_g(s_g, a_g) = 1 - [a_g = resync]``: broadcasting the full model costs the round's
      bandwidth.
    * start: the rule in force is uniform; client drifts i.i.d. from a law drawn from
      ``Dirichlet(0.5, ..., 0.5)`` per episode (federations differ in how stale they start).

    The server's problem is when to resync: FedAvg is best for a population in sync, damping
    for a mixed one, resync once enough clients are stale, and only the polled clients say
    which it is. The clients' problem is how much local work to do given their drift and the
    rule: many epochs pay while in sync under FedAvg and hurt once drifted.
    """
    if not 0.0 < gamma < 1.0:
        raise AltmarlError(f"gamma = {gamma} must lie in (0, 1)")
    S_l, S_g, A_l = len(DRIFT_LEVELS), len(RULES), len(LOCAL_WORK)
    eye = np.eye(S_g)
    # P_g[s_g, a_g, s_g']
    P_g = BROADCAST_REACH * eye[None, :, :] + (1.0 - BROADCAST_REACH) * eye[:, None, :]
    P_l = np.zeros((S_l, S_g, A_l, S_l))
    for s in range(S_l):
        for g in range(S_g):
            restart = RESTART if RULES[g] == "resync" else 0.0
            for a in range(A_l):
                up, down = DRIFT_UP[a], DRIFT_DOWN[a] + RULE_PULL[g]
                row = np.zeros(S_l)
                row[min(s + 1, S_l - 1)] += up
                row[max(s - 1, 0)] += down
                row[s] += 1.0 - up - down
                row = (1.0 - restart) * row
                row[0] += restart
                P_l[s, g, a] = row
    q = ALIGNMENT[:, None, None]
    r_l = SHIFT + WORK[None, None, :] * (GAIN[None, :, None] * q - HARM[None, :, None] * (1 - q))
    r_g = np.ones((S_g, len(RULES))) - RESYNC_COST * (np.arange(len(RULES)) == 2)[None, :]
    return TabularGame.from_arrays(
        P_g=P_g,
        P_l=P_l,
        r_g=r_g,
        r_l=r_l,
        gamma=gamma,
        dirichlet_alpha=dirichlet_alpha,
        name="federated",
    )
