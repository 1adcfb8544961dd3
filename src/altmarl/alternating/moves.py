"""A player's move in Algorithm 14: ask its oracle for a best response to the other player's
current policy and offer the result to UPDATE as candidate pairs.

:class:`GlobalMove` and :class:`LocalMove` adapt any :class:`~altmarl.oracles.GlobalOracle`
or :class:`~altmarl.oracles.LocalOracle` to the driver's one shape, :class:`Move`. A move
also carries the run's *memo* from step to step: the global move keeps the last ``Qhat``
and the local policy it answered (:class:`~altmarl.oracles.PreviousAnswer`), which G-LEARN
warm-starts from and :class:`~altmarl.alternating.global_steps.ReusedAnswer` reuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from altmarl.alternating.evaluators import Pair
from altmarl.oracles import (
    Candidate,
    GlobalOracle,
    LocalOracle,
    OracleInfo,
    PreviousAnswer,
    policy_fingerprint,
)
from altmarl.policies import GlobalPolicy


@dataclass(frozen=True)
class Proposal:
    """What a move offers UPDATE: candidate pairs (the oracle's answer first), the oracle's
    report, and the memo the next move receives."""

    candidates: tuple[Candidate[Pair], ...]
    info: OracleInfo
    memo: Any = None


class Move(Protocol):
    """One player's step: ``(game, current pair, k, seed, memo) -> Proposal``."""

    def __call__(
        self, game: Any, pair: Pair, k: int, *, seed: np.random.SeedSequence, memo: Any
    ) -> Proposal: ...


@dataclass(frozen=True)
class GlobalMove:
    """The global player's move: ``pi_g' = oracle(pi_l)``, named ``g-learn`` in the history.

    A tabular answer is returned in the current policy's parameterization, and its ``Q``
    table (with the local policy it answered) becomes the memo.
    """

    oracle: GlobalOracle
    name: str = "g-learn"

    def __call__(
        self, game: Any, pair: Pair, k: int, *, seed: np.random.SeedSequence, memo: Any
    ) -> Proposal:
        pi_g, pi_l = pair
        res = self.oracle.best_response(
            game, pi_l, k, global_policy=pi_g, seed=np.random.default_rng(seed), previous=memo
        )
        policy = res.policy
        if (
            isinstance(policy, GlobalPolicy)
            and isinstance(pi_g, GlobalPolicy)
            and policy.parameterization != pi_g.parameterization
        ):
            policy = policy.to_mean_field()
        candidates = (
            Candidate(self.name, (policy, pi_l)),
            *(Candidate(c.name, (c.policy, pi_l)) for c in res.alternatives),
        )
        if res.q is not None:
            memo = PreviousAnswer(res.q, policy_fingerprint(pi_l))
        return Proposal(candidates, res.info, memo)


@dataclass(frozen=True)
class LocalMove:
    """The local player's move: ``pi_l' = oracle(pi_g)`` from the current ``pi_l``, named
    ``l-learn`` in the history; the memo passes through unchanged."""

    oracle: LocalOracle
    name: str = "l-learn"

    def __call__(
        self, game: Any, pair: Pair, k: int, *, seed: np.random.SeedSequence, memo: Any
    ) -> Proposal:
        pi_g, pi_l = pair
        res = self.oracle.best_response(
            game, pi_g, k, local_policy=pi_l, seed=np.random.default_rng(seed)
        )
        candidates = (
            Candidate(self.name, (pi_g, res.policy)),
            *(Candidate(c.name, (pi_g, c.policy)) for c in res.alternatives),
        )
        return Proposal(candidates, res.info, memo)
