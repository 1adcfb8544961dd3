"""UPDATE (SPEC §5): accept, reject or terminate on a proposal, from value estimates.

A proposal offers one or more candidate pairs (the oracle's answer first). The current
pair and every candidate are estimated in one call of the evaluator, so they share random
numbers; the best candidate (the first on a tie) is compared with the current pair by the
run's :class:`UpdateRule`:

* :class:`ToleranceUpdate` (the SPEC's rule) with intervals ``[v - eps_tol, v + eps_tol]``:
  **accept** when the new pair leads by at least ``2 eps_tol`` (intervals disjoint, new
  ahead), **reject** when the old pair leads by at least ``2 eps_tol``, **terminate** when
  the intervals overlap (the current pair is an ``O(eps_tol)``-NE, Lemma D.14). Every
  accepted step raises the potential ``V`` by at least ``eps_tol``, so at most
  ``r_max / ((1 - gamma) eps_tol)`` steps are accepted (Lemma D.15).
* :class:`KeepBetter`: keep the pair with the larger estimate (accept or reject, never
  terminate; the continuous extension's rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from altmarl.alternating.evaluators import Estimate, Pair, PairEvaluator
from altmarl.errors import AltmarlError
from altmarl.oracles import Candidate

Decision = Literal["accept", "reject", "terminate"]


def update_rule(old_value: float, new_value: float, eps_tol: float) -> Decision:
    """UPDATE (SPEC §5) on estimates with intervals ``[v - eps_tol, v + eps_tol]``."""
    if eps_tol < 0:
        raise AltmarlError(f"eps_tol = {eps_tol} must be >= 0")
    if new_value - eps_tol >= old_value + eps_tol:
        return "accept"
    if old_value - eps_tol >= new_value + eps_tol:
        return "reject"
    return "terminate"


class UpdateRule(Protocol):
    """Decides on a proposal from the two estimates; ``radius`` is its interval half-width."""

    @property
    def radius(self) -> float: ...

    def decide(self, old: Estimate, new: Estimate) -> Decision: ...


@dataclass(frozen=True)
class ToleranceUpdate:
    """The SPEC's UPDATE with tolerance radius ``eps_tol`` (:func:`update_rule`)."""

    eps_tol: float

    @property
    def radius(self) -> float:
        return self.eps_tol

    def decide(self, old: Estimate, new: Estimate) -> Decision:
        return update_rule(old.value, new.value, self.eps_tol)


@dataclass(frozen=True)
class KeepBetter:
    """Accept iff the new estimate is strictly larger; otherwise reject (never terminate)."""

    radius: float = 0.0

    def decide(self, old: Estimate, new: Estimate) -> Decision:
        return "accept" if new.value > old.value else "reject"


@dataclass(frozen=True)
class Verdict:
    """UPDATE's decision on a proposal: the candidate it judged and both estimates."""

    decision: Decision
    candidate: Candidate[Pair]
    old: Estimate
    new: Estimate


def judge(
    evaluator: PairEvaluator,
    rule: UpdateRule,
    game: Any,
    current: Pair,
    candidates: Sequence[Candidate[Pair]],
    seed: int | np.random.SeedSequence,
) -> Verdict:
    """Estimate ``current`` and every candidate in one call (common random numbers) and
    decide on the best candidate (the first best wins, so the oracle's answer keeps a tie)."""
    old, *new = evaluator.estimate(game, [current, *(c.policy for c in candidates)], seed)
    best = max(range(len(candidates)), key=lambda i: new[i].value)
    decision = rule.decide(old, new[best])
    if decision == "accept":
        # Lemma D.15: an accepted step raises the (estimated) potential by >= the radius.
        assert new[best].value >= old.value + rule.radius, (new[best], old, rule.radius)
    return Verdict(decision, candidates[best], old, new[best])
