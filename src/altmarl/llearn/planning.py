"""L-LEARN by exact planning on the chained MDP (SPEC §4e, "exact model-based planning on
the same chained MDP"; small ``k``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from altmarl.game import TabularGame
from altmarl.llearn.common import LLearnInfo, chain_setup, deployable
from altmarl.llearn.mdp import (
    EpisodicMDP,
    backward_induction,
    evaluate_restricted,
    project_to_observations,
)
from altmarl.llearn.reductions import truncation_bound
from altmarl.oracles import LLearnResult
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.seeding import Seed


def coordinate_ascent(
    mdp: EpisodicMDP, start: np.ndarray, max_sweeps: int = 50, tol: float = 1e-12
) -> tuple[np.ndarray, float]:
    """Best deterministic observation-restricted policy reachable by single-observation
    changes from ``start`` (an int ``[O]`` action table), by exact evaluation.

    Returns ``(actions [O], value)``; the value never decreases along the way.
    """
    O, A = mdp.num_observations, mdp.num_actions
    eye = np.eye(A)
    acts = np.asarray(start, dtype=np.int64).copy()
    best = evaluate_restricted(mdp, eye[acts])
    for _ in range(max_sweeps):
        improved = False
        for o in range(O):
            for a in range(A):
                if a == acts[o]:
                    continue
                trial = acts.copy()
                trial[o] = a
                val = evaluate_restricted(mdp, eye[trial])
                if val > best + tol:
                    best, acts, improved = val, trial, True
        if not improved:
            break
    return acts, best


@dataclass(frozen=True)
class PlanningOracle:
    """L-LEARN by exact planning on the chained MDP (small ``k``; SPEC §4e "exact
    model-based planning on the same chained MDP").

    Candidates, each evaluated exactly in the shared class: the projection of the chain's
    unrestricted optimum, the starting policy, and coordinate ascent over deterministic
    shared policies from the greedy actions of both. The best candidate is returned, so
    its value is at least the starting policy's and the projected optimum's.

    chain : ``"k"`` (Algorithm 21) or ``"mean-field"`` (Algorithm 28; candidates are then
        deterministic, the class whose chain value is the ``k``-agent value).
    """

    T: int | None = None
    truncation_eps: float | None = None
    chain: str = "k"
    max_sweeps: int = 50

    def best_response(
        self,
        game: TabularGame,
        global_policy: GlobalPolicy,
        k: int,
        *,
        local_policy: LocalPolicy | None = None,
        seed: Seed = 0,
    ) -> LLearnResult[LocalPolicy]:
        start = time.perf_counter()
        pi0, T, ch = chain_setup(game, global_policy, k, local_policy, self)
        mdp = ch.mdp
        V, _, greedy = backward_induction(mdp)
        chained_value = float(mdp.initial @ V[0])
        projected = deployable(ch, project_to_observations(mdp, greedy))
        start_table = ch.shared_table(pi0)
        start_value = evaluate_restricted(mdp, start_table)
        start_table = deployable(ch, start_table)
        candidates = [
            (evaluate_restricted(mdp, projected), projected),
            (evaluate_restricted(mdp, start_table), start_table),
        ]
        projected_value = candidates[0][0]
        eye = np.eye(mdp.num_actions)
        for _, table in list(candidates):
            acts, val = coordinate_ascent(mdp, table.argmax(axis=1), self.max_sweeps)
            candidates.append((val, eye[acts]))
        value, best = max(candidates, key=lambda c: c[0])
        info = LLearnInfo(
            oracle="planning",
            value=value,
            start_value=start_value,
            seconds=time.perf_counter() - start,
            T=T,
            truncation_error=truncation_bound(game.gamma, game.r_max, T),
            chained_value=chained_value,
            projected_value=projected_value,
            num_states=mdp.num_states,
            extra={"chain": self.chain},
        )
        return LLearnResult(ch.to_local_policy(best), info)
