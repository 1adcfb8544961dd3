"""UPDATE (SPEC §5): accept, reject or terminate on a proposal, from value estimates.

A proposal offers one or more candidate pairs (the oracle's answer first). Each rule judges
it (:meth:`UpdateRule.judge`) and returns a :class:`Verdict`:

* :class:`ToleranceUpdate` (the SPEC's rule on exact values, or on estimates taken at face
  value) with intervals ``[v - eps_tol, v + eps_tol]``: the current pair and every candidate
  are estimated in one call of the evaluator and the best candidate (the first on a tie) is
  compared: **accept** when the new pair leads by at least ``2 eps_tol`` (intervals disjoint,
  new ahead), **reject** when the old pair leads by at least ``2 eps_tol``, **terminate** when
  the intervals overlap (the current pair is an ``O(eps_tol)``-NE, Lemma D.14). Exact with
  :class:`~altmarl.alternating.evaluators.ExactEvaluator`.
* :class:`SequentialUpdate` (rollouts): the same decisions on the paired difference of
  rollout returns under common random numbers, with a confidence interval that accounts for
  its standard error and for the truncated tail, extended batch by batch until the decision
  is clear at confidence ``1 - delta`` or the budget is spent (``inconclusive``). What each
  decision claims about ``Delta = V(new) - V(old)`` (true infinite-horizon values from the
  initial law) and why it holds with probability ``>= 1 - delta``: see the class.
* :class:`KeepBetter`: keep the pair with the larger estimate (accept or reject, never
  terminate; the continuous extension's rule).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from scipy import special  # stdtrit: the t quantile, without scipy.stats' import time

from altmarl.alternating.evaluators import Estimate, Pair, PairEvaluator, RolloutSampler
from altmarl.errors import AltmarlError
from altmarl.oracles import Candidate

Decision = Literal["accept", "reject", "terminate", "inconclusive"]
#: Every decision UPDATE can record.
DECISIONS: tuple[str, ...] = ("accept", "reject", "terminate", "inconclusive")


def update_rule(old_value: float, new_value: float, eps_tol: float) -> Decision:
    """UPDATE (SPEC §5) on estimates with intervals ``[v - eps_tol, v + eps_tol]``."""
    if eps_tol < 0:
        raise AltmarlError(f"eps_tol = {eps_tol} must be >= 0")
    if new_value - eps_tol >= old_value + eps_tol:
        return "accept"
    if old_value - eps_tol >= new_value + eps_tol:
        return "reject"
    return "terminate"


def decide_difference(difference: float, width: float, eps_tol: float) -> Decision | None:
    """The decision on a paired difference ``d`` known to within ``width`` (``|d - Delta| <=
    width`` with the stated confidence), or ``None`` while it is not clear yet.

    * accept when ``d >= 2 eps_tol`` and ``d - width >= eps_tol`` (claims ``Delta >= eps_tol``);
    * reject when ``d <= -2 eps_tol`` and ``d + width <= -eps_tol`` (claims ``Delta <= -eps_tol``);
    * terminate when ``|d| < 2 eps_tol`` and ``|d| + width < 3 eps_tol`` (claims
      ``|Delta| < 3 eps_tol``).

    With ``width = 0`` this is the SPEC's rule on the difference; once ``width <= eps_tol``
    exactly one case holds, so a sequential test that shrinks ``width`` always ends.
    """
    d, w, e = difference, width, eps_tol
    if d >= 2 * e and d - w >= e:
        return "accept"
    if d <= -2 * e and d + w <= -e:
        return "reject"
    if abs(d) < 2 * e and abs(d) + w < 3 * e:
        return "terminate"
    return None


@dataclass(frozen=True)
class Comparison:
    """The paired comparison behind a decision (SPEC §5, "in practice").

    difference : estimate of ``Delta = V(new) - V(old)``; stderr : its standard error;
    half_width : ``z * stderr`` at the decision's confidence; bias : bound on the truncated
    tail's effect on the difference; rollouts : rollouts per pair used by UPDATE (0 when
    exact or when the candidate is the current pair); selection_rollouts : rollouts per
    candidate spent choosing which candidate UPDATE compares (independent of UPDATE's).
    """

    difference: float
    stderr: float = 0.0
    half_width: float = 0.0
    bias: float = 0.0
    rollouts: int = 0
    selection_rollouts: int = 0


@dataclass(frozen=True)
class Verdict:
    """UPDATE's decision on a proposal: the candidate it judged, both estimates, the two
    intervals recorded in the history, and the comparison decided on."""

    decision: Decision
    candidate: Candidate[Pair]
    old: Estimate
    new: Estimate
    old_interval: tuple[float, float] = (math.nan, math.nan)
    new_interval: tuple[float, float] = (math.nan, math.nan)
    comparison: Comparison = field(default_factory=lambda: Comparison(math.nan))


class UpdateRule(Protocol):
    """Decides on a proposal; ``radius`` is its tolerance radius (``eps_tol``)."""

    @property
    def radius(self) -> float: ...

    def judge(
        self,
        evaluator: Any,
        game: Any,
        current: Pair,
        candidates: Sequence[Candidate[Pair]],
        seed: np.random.SeedSequence,
    ) -> Verdict: ...


class DecideRule(Protocol):
    """A rule that decides on the best candidate's estimate alone (``KeepBetter``-like);
    :func:`judge` applies it to the best candidate of one common-random-numbers call."""

    @property
    def radius(self) -> float: ...

    def decide(self, old: Estimate, new: Estimate) -> Decision: ...


def _best_of_one_call(
    evaluator: PairEvaluator,
    game: Any,
    current: Pair,
    candidates: Sequence[Candidate[Pair]],
    seed: int | np.random.SeedSequence,
) -> tuple[Estimate, int, Estimate]:
    """Estimate ``current`` and every candidate in one call (common random numbers): the
    current pair's estimate, the best candidate's index (the first best wins, so the
    oracle's answer keeps a tie) and its estimate."""
    old, *new = evaluator.estimate(game, [current, *(c.policy for c in candidates)], seed)
    best = max(range(len(candidates)), key=lambda i: new[i].value)
    return old, best, new[best]


@dataclass(frozen=True)
class ToleranceUpdate:
    """The SPEC's UPDATE with tolerance radius ``eps_tol`` (:func:`update_rule`) on the
    evaluator's numbers taken at face value: exact with an exact evaluator."""

    eps_tol: float

    @property
    def radius(self) -> float:
        return self.eps_tol

    def decide(self, old: Estimate, new: Estimate) -> Decision:
        return update_rule(old.value, new.value, self.eps_tol)

    def judge(
        self,
        evaluator: PairEvaluator,
        game: Any,
        current: Pair,
        candidates: Sequence[Candidate[Pair]],
        seed: int | np.random.SeedSequence,
    ) -> Verdict:
        old, best, new = _best_of_one_call(evaluator, game, current, candidates, seed)
        decision = self.decide(old, new)
        if decision == "accept":
            # Lemma D.15: an accepted step raises the (estimated) potential by >= eps_tol.
            assert new.value >= old.value + self.eps_tol, (new, old, self.eps_tol)
        e = self.eps_tol
        return Verdict(
            decision,
            candidates[best],
            old,
            new,
            (old.value - e, old.value + e),
            (new.value - e, new.value + e),
            Comparison(new.value - old.value),
        )


@dataclass(frozen=True)
class KeepBetter:
    """Accept iff the new estimate is strictly larger; otherwise reject (never terminate)."""

    radius: float = 0.0

    def decide(self, old: Estimate, new: Estimate) -> Decision:
        return "accept" if new.value > old.value else "reject"

    def judge(
        self,
        evaluator: PairEvaluator,
        game: Any,
        current: Pair,
        candidates: Sequence[Candidate[Pair]],
        seed: int | np.random.SeedSequence,
    ) -> Verdict:
        old, best, new = _best_of_one_call(evaluator, game, current, candidates, seed)
        return Verdict(
            self.decide(old, new),
            candidates[best],
            old,
            new,
            (old.value, old.value),
            (new.value, new.value),
            Comparison(new.value - old.value),
        )


def _child(seed: int | np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """Child ``index`` of ``seed`` (what ``seed.spawn`` would give, without mutating it)."""
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, index))


def _same_pair(a: Pair, b: Pair) -> bool:
    """Whether two tabular pairs are the same policies (so ``Delta = 0`` exactly)."""
    (ga, la), (gb, lb) = a, b
    same_g = ga is gb or (
        getattr(ga, "parameterization", None) == getattr(gb, "parameterization", None)
        and _same_array(getattr(ga, "table", None), getattr(gb, "table", None))
    )
    same_l = la is lb or _same_array(getattr(la, "probs", None), getattr(lb, "probs", None))
    return bool(same_g and same_l)


def _same_array(x: np.ndarray | None, y: np.ndarray | None) -> bool:
    return x is not None and y is not None and bool(np.array_equal(x, y))


@dataclass(frozen=True)
class SequentialUpdate:
    """UPDATE on the paired difference of rollout returns, with honest intervals (SPEC §5).

    Rollout ``r`` of the current pair and of the candidate share their random numbers
    (:class:`~altmarl.alternating.evaluators.RolloutEvaluator`), so the differences
    ``D_r = G_new[r] - G_old[r]`` are i.i.d. with mean ``Delta_H = V_H(new) - V_H(old)``
    (horizon ``H``) and ``|Delta_H - Delta| <= bias`` (the evaluator's truncation bound,
    :func:`~altmarl.alternating.evaluators.truncation_tails`).
    After ``R`` rollouts the interval is ``d +- (z s / sqrt(R) + bias)`` with ``d`` the mean
    and ``s`` the standard deviation of the ``D_r``, ``z`` the Student-t quantile at
    ``1 - delta / (2 B)`` and ``B`` the number of looks the budget allows: the rollouts grow
    ``first_batch, 2 first_batch, 4 first_batch, ...`` up to ``max_rollouts``, and the
    decision (:func:`decide_difference`) is taken at the first look where it is clear.
    By the union bound over the ``B`` looks, the interval holds at the look that decides
    with probability ``>= 1 - delta`` (normal theory for the mean of ``R`` differences),
    so each decision's claim is true with probability ``>= 1 - delta``:

    * accept: ``Delta >= eps_tol`` (the potential rises by at least ``eps_tol``: Lemma D.15
      holds for values, not only for estimates);
    * reject: ``Delta <= -eps_tol``;
    * terminate: ``|Delta| < 3 eps_tol``;
    * inconclusive (budget spent first): no claim; the current pair is kept.

    With several candidates, the one UPDATE compares is chosen on ``selection_rollouts``
    rollouts of an independent stream, so the choice does not bias the comparison. A
    candidate equal to the current pair has ``Delta = 0`` exactly and is not simulated.
    """

    eps_tol: float
    delta: float = 0.05
    first_batch: int = 32
    max_rollouts: int = 1024
    selection_rollouts: int = 32

    def __post_init__(self) -> None:
        if not self.eps_tol > 0:
            raise AltmarlError(f"eps_tol = {self.eps_tol} must be > 0")
        if not 0 < self.delta < 1:
            raise AltmarlError(f"delta = {self.delta} must lie in (0, 1)")
        if self.first_batch < 2:
            raise AltmarlError(f"update rollouts = {self.first_batch} must be >= 2")
        if self.max_rollouts < self.first_batch:
            raise AltmarlError(
                f"max_update_rollouts = {self.max_rollouts} must be >= the first batch "
                f"({self.first_batch} rollouts)"
            )

    @property
    def radius(self) -> float:
        return self.eps_tol

    def looks(self) -> list[int]:
        """Cumulative rollouts per pair at each look: doubling up to the budget."""
        out = [self.first_batch]
        while out[-1] < self.max_rollouts:
            out.append(min(2 * out[-1], self.max_rollouts))
        return out

    def z(self, rollouts: int) -> float:
        """Student-t quantile of a two-sided ``1 - delta / B`` interval from ``rollouts``."""
        level = self.delta / len(self.looks())
        return float(special.stdtrit(rollouts - 1, 1.0 - level / 2.0))

    def select(
        self,
        evaluator: RolloutSampler,
        game: Any,
        current: Pair,
        candidates: Sequence[Candidate[Pair]],
        seed: np.random.SeedSequence,
    ) -> tuple[int, int]:
        """Index of the candidate UPDATE compares, and the selection rollouts spent: the
        first best mean over ``selection_rollouts`` rollouts from ``seed`` (skipped for one
        distinct candidate; candidates equal to the current pair or an earlier one dropped)."""
        distinct: list[int] = []
        for i, cand in enumerate(candidates):
            if _same_pair(cand.policy, current):
                continue
            if any(_same_pair(cand.policy, candidates[j].policy) for j in distinct):
                continue
            distinct.append(i)
        if not distinct:
            return 0, 0
        if len(distinct) == 1:
            return distinct[0], 0
        returns = evaluator.returns(
            game, [candidates[i].policy for i in distinct], seed, 0, self.selection_rollouts
        )
        means = returns.mean(axis=1)
        return distinct[int(np.argmax(means))], self.selection_rollouts

    def judge(
        self,
        evaluator: RolloutSampler,
        game: Any,
        current: Pair,
        candidates: Sequence[Candidate[Pair]],
        seed: int | np.random.SeedSequence,
    ) -> Verdict:
        chosen, selection = self.select(evaluator, game, current, candidates, _child(seed, 1))
        candidate = candidates[chosen]
        if _same_pair(candidate.policy, current):
            # Delta = 0 exactly: the SPEC's overlap, with nothing to simulate
            nan = Estimate(math.nan, math.nan)
            return Verdict(
                "terminate",
                candidate,
                nan,
                nan,
                comparison=Comparison(0.0, selection_rollouts=selection),
            )
        tail, bias = evaluator.truncation(game)
        stream = _child(seed, 0)
        pairs = [current, candidate.policy]
        blocks: list[np.ndarray] = []
        done = 0
        decision: Decision | None = None
        for total in self.looks():
            blocks.append(evaluator.returns(game, pairs, stream, done, total))
            done = total
            returns = np.concatenate(blocks, axis=1)  # [2, done]
            diff = returns[1] - returns[0]
            d = float(diff.mean())
            se = float(diff.std(ddof=1) / math.sqrt(done))
            half = self.z(done) * se
            decision = decide_difference(d, half + bias, self.eps_tol)
            if decision is not None:
                break
        old, new = (
            Estimate(float(r.mean()), float(r.std(ddof=1) / math.sqrt(done))) for r in returns
        )
        z = self.z(done)
        return Verdict(
            decision or "inconclusive",
            candidate,
            old,
            new,
            # each value's own interval: the truncated tail can only raise the true value
            (old.value - z * old.stderr, old.value + z * old.stderr + tail),
            (new.value - z * new.stderr, new.value + z * new.stderr + tail),
            Comparison(d, se, half, bias, done, selection),
        )


def judge(
    evaluator: Any,
    rule: Any,
    game: Any,
    current: Pair,
    candidates: Sequence[Candidate[Pair]],
    seed: int | np.random.SeedSequence,
) -> Verdict:
    """UPDATE's verdict on a proposal (``rule.judge``); a rule with only ``decide(old, new)``
    is applied to the best candidate of one common-random-numbers call."""
    if hasattr(rule, "judge"):
        return rule.judge(evaluator, game, current, candidates, seed)  # type: ignore[no-any-return]
    old, best, new = _best_of_one_call(evaluator, game, current, candidates, seed)
    r = float(rule.radius)
    return Verdict(
        rule.decide(old, new),
        candidates[best],
        old,
        new,
        (old.value - r, old.value + r),
        (new.value - r, new.value + r),
        Comparison(new.value - old.value),
    )
