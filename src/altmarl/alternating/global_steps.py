"""Variants of the global step, as wrappers around any :class:`~altmarl.oracles.GlobalOracle`.

* :class:`Safeguarded` -- the safeguarded global step: besides the oracle's greedy policy,
  offer UPDATE its *conservative* versions (switch from the current action to the oracle's
  only where the ``Qhat`` advantage exceeds a fraction :data:`CONSERVATIVE_FRACTIONS` of the
  largest advantage) and the ``|A_g|`` constant dispatchers. All are estimated together
  with the current pair under common random numbers and the best is the proposal UPDATE
  judges. A superset of candidates can only raise the proposal's value, so Lemma D.15's
  potential argument is unchanged. It guards against G-LEARN's ``k``-agent surrogate
  rewarding a policy that chases the noise of a small fresh sample (docs/design.md).
* :class:`ColdStart` -- the oracle never sees the run's previous answer (G-LEARN starts
  value iteration from ``Q = 0`` at every call: ``warm_start=False``).
* :class:`ReusedAnswer` -- when the local policy has not changed since the run's last global
  answer, return that answer's greedy policy again (eq. 20, ties broken afresh) instead of
  drawing a new empirical operator: both are G-LEARN answers to the same question with the
  same guarantee, and the reuse skips the most expensive part of the confirming global step
  that follows a failed local one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from altmarl.game import TabularGame
from altmarl.glearn.value_iteration import greedy_policy
from altmarl.oracles import (
    Candidate,
    GLearnResult,
    GlobalOracle,
    OracleInfo,
    PreviousAnswer,
    policy_fingerprint,
)
from altmarl.policies import GlobalPolicy, LocalPolicy, Parameterization
from altmarl.seeding import Seed, as_generator

#: Conservative updates switch to the oracle's action only where its advantage over the
#: current action exceeds this fraction of the largest advantage.
CONSERVATIVE_FRACTIONS = (0.25, 0.5, 0.75)


def safeguard_candidates(
    game: TabularGame,
    current: GlobalPolicy,
    proposal: GlobalPolicy,
    q: np.ndarray | None,
) -> list[Candidate[GlobalPolicy]]:
    """The safeguarded step's extra candidates: conservative versions of ``proposal``
    relative to ``current``, then the constant dispatchers. Candidates whose table equals
    the current policy's or an earlier one's are left out, as they cannot change UPDATE's
    decision."""
    seen = [current.table, proposal.table]
    out: list[Candidate[GlobalPolicy]] = []

    def add(name: str, table: np.ndarray) -> None:
        if any(np.array_equal(table, t) for t in seen):
            return
        seen.append(table)
        policy = GlobalPolicy(table, current.k, game.num_sl, game.num_ag, current.parameterization)
        out.append(Candidate(name, policy))

    if q is not None and q.shape[:2] == current.table.shape == proposal.table.shape:
        now = np.take_along_axis(q, current.table[..., None], axis=-1)[..., 0]
        advantage = q.max(axis=-1) - now
        top = float(advantage.max())
        for f in CONSERVATIVE_FRACTIONS:
            add(f"conservative:{f}", np.where(advantage > f * top, proposal.table, current.table))
    for a in range(game.num_ag):
        add(f"constant:{a}", np.full_like(current.table, a))
    return out


@dataclass(frozen=True)
class Safeguarded:
    """A :class:`~altmarl.oracles.GlobalOracle` whose answer also offers the safeguard
    candidates (:func:`safeguard_candidates`) relative to the incumbent ``global_policy``."""

    inner: GlobalOracle

    def best_response(
        self,
        game: TabularGame,
        local_policy: LocalPolicy,
        k: int,
        *,
        global_policy: GlobalPolicy | None = None,
        seed: Seed = 0,
        previous: PreviousAnswer | None = None,
    ) -> GLearnResult[GlobalPolicy]:
        res = self.inner.best_response(
            game, local_policy, k, global_policy=global_policy, seed=seed, previous=previous
        )
        if global_policy is None:
            return res
        policy = res.policy
        if policy.parameterization != global_policy.parameterization:
            policy = policy.to_mean_field()
        extra = safeguard_candidates(game, global_policy, policy, res.q)
        return replace(res, alternatives=(*res.alternatives, *extra))


@dataclass(frozen=True)
class ColdStart:
    """A :class:`~altmarl.oracles.GlobalOracle` that withholds the previous answer from
    ``inner`` (no warm start); the run still remembers it for :class:`ReusedAnswer`."""

    inner: GlobalOracle

    def best_response(
        self,
        game: TabularGame,
        local_policy: LocalPolicy,
        k: int,
        *,
        global_policy: GlobalPolicy | None = None,
        seed: Seed = 0,
        previous: PreviousAnswer | None = None,
    ) -> GLearnResult[GlobalPolicy]:
        return self.inner.best_response(
            game, local_policy, k, global_policy=global_policy, seed=seed, previous=None
        )


@dataclass(frozen=True)
class ReusedAnswer:
    """A :class:`~altmarl.oracles.GlobalOracle` that answers a local policy it has answered
    before from the previous ``Qhat`` (no samples, no sweeps), and asks ``inner`` otherwise."""

    inner: GlobalOracle

    def best_response(
        self,
        game: TabularGame,
        local_policy: LocalPolicy,
        k: int,
        *,
        global_policy: GlobalPolicy | None = None,
        seed: Seed = 0,
        previous: PreviousAnswer | None = None,
    ) -> GLearnResult[GlobalPolicy]:
        if previous is None or previous.local_fingerprint != policy_fingerprint(local_policy):
            return self.inner.best_response(
                game, local_policy, k, global_policy=global_policy, seed=seed, previous=previous
            )
        q = previous.q
        table = greedy_policy(q, as_generator(seed))
        parameterization: Parameterization = (
            "mean-field" if global_policy is None else global_policy.parameterization
        )
        policy = GlobalPolicy(table, k, game.num_sl, game.num_ag, parameterization)
        info = OracleInfo(value=float(q.max(axis=-1).mean()))
        return GLearnResult(q=q, policy=policy, info=info)
