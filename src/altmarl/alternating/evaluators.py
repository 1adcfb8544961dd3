"""Value estimators UPDATE decides on (SPEC §5): rollouts of online execution with common
random numbers, or the exact count chain (tiny ``n``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from altmarl.exact import exact_value
from altmarl.game import TabularGame
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.simulate import evaluate

#: A joint policy ``(pi_g, pi_l)``; the continuous extension uses networks for both.
Pair = tuple[Any, Any]


@dataclass(frozen=True)
class Estimate:
    """A value estimate with its standard error (0 for exact evaluation)."""

    value: float
    stderr: float


class PairEvaluator(Protocol):
    """Estimates ``V`` of several pairs, all from one seed (common random numbers)."""

    def estimate(
        self,
        game: Any,
        pairs: Sequence[Pair],
        seed: int | np.random.SeedSequence,
    ) -> list[Estimate]: ...


@dataclass(frozen=True)
class RolloutEvaluator:
    """Online-execution rollouts on the ``n``-agent system, the same seed for every pair
    (common random numbers), so the comparison's noise is mostly shared."""

    n: int
    k: int
    rollouts: int = 100
    horizon: int = 100
    simulator: str = "counts"

    def estimate(
        self,
        game: TabularGame,
        pairs: Sequence[tuple[GlobalPolicy, LocalPolicy]],
        seed: int | np.random.SeedSequence,
    ) -> list[Estimate]:
        out = []
        for pi_g, pi_l in pairs:
            res = evaluate(
                game,
                pi_g,
                pi_l,
                n=self.n,
                k=self.k,
                rollouts=self.rollouts,
                horizon=self.horizon,
                seed=np.random.default_rng(seed),
                simulator=self.simulator,  # type: ignore[arg-type]
            )
            out.append(Estimate(res.mean, res.stderr))
        return out


@dataclass(frozen=True)
class ExactEvaluator:
    """Exact ``V`` on the count chain (tiny ``n``; :mod:`altmarl.exact`)."""

    n: int
    k: int

    def estimate(
        self,
        game: TabularGame,
        pairs: Sequence[tuple[GlobalPolicy, LocalPolicy]],
        seed: int | np.random.SeedSequence,
    ) -> list[Estimate]:
        return [Estimate(exact_value(game, g, l, self.n, self.k), 0.0) for g, l in pairs]
