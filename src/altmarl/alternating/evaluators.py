"""Value estimators UPDATE decides on (SPEC §5): rollouts of online execution with common
random numbers, or the exact count chain (tiny ``n``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from altmarl.exact import exact_value
from altmarl.game import TabularGame
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.simulate.crn import crn_returns

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


class RolloutSampler(Protocol):
    """Per-rollout returns of several pairs under common random numbers, in batches.

    ``returns(game, pairs, seed, start, stop)`` is ``[len(pairs), stop - start]``: rollout
    ``r`` of every pair shares its random numbers, and depends only on ``seed`` and ``r``
    (so batches extend a sample consistently). ``truncation(game)`` is ``(tail, bias)``:
    bounds on the truncated tail's effect on one value (which it can only lower) and on a
    difference of two values.
    """

    def truncation(self, game: Any) -> tuple[float, float]: ...

    def returns(
        self,
        game: Any,
        pairs: Sequence[Pair],
        seed: int | np.random.SeedSequence,
        start: int,
        stop: int,
    ) -> np.ndarray: ...


def truncation_tails(game: TabularGame, horizon: int) -> tuple[float, float]:
    """``(tail, bias)`` of a horizon-``H`` return (SPEC §5): the discarded tail
    ``sum_{t >= H} gamma^t r_t`` of every pair lies in ``gamma^H [r_lo, r_hi] / (1 - gamma)``
    (``r_lo``, ``r_hi`` the least and largest stage rewards), so a truncated value is low by
    at most ``tail = gamma^H r_hi / (1 - gamma)`` and a truncated DIFFERENCE of two values is
    off by at most ``bias = gamma^H (r_hi - r_lo) / (1 - gamma)`` (at most
    ``gamma^H r_max / (1 - gamma)`` since rewards are non-negative)."""
    r_hi = float(game.r_g.max() + game.r_l.max())
    r_lo = float(game.r_g.min() + game.r_l.min())
    scale = game.gamma**horizon / (1.0 - game.gamma)
    return scale * r_hi, scale * (r_hi - r_lo)


def horizon_for_bias(game: TabularGame, bias: float) -> int:
    """The least horizon whose truncation bias of a difference (:func:`truncation_tails`)
    is at most ``bias``."""
    r_span = float(game.r_g.max() + game.r_l.max() - game.r_g.min() - game.r_l.min())
    if r_span <= 0:
        return 1
    h = math.log(bias * (1.0 - game.gamma) / r_span) / math.log(game.gamma)
    return max(1, math.ceil(h - 1e-9))


@dataclass(frozen=True)
class RolloutEvaluator:
    """Online-execution rollouts on the ``n``-agent system under common random numbers
    (:func:`~altmarl.simulate.crn.crn_returns`): rollout ``r`` of every pair is driven by the
    same random numbers, so a paired difference cancels most of the noise.

    ``estimate`` averages ``rollouts`` rollouts per pair; :class:`~altmarl.alternating.update.
    SequentialUpdate` asks for ``returns`` batch by batch instead.
    """

    n: int
    k: int
    rollouts: int = 100
    horizon: int = 100
    simulator: str = "counts"  # the law is the counts simulator's (kept for config symmetry)

    def truncation(self, game: TabularGame) -> tuple[float, float]:
        """``(tail, bias)`` of this evaluator's horizon (:func:`truncation_tails`)."""
        return truncation_tails(game, self.horizon)

    def returns(
        self,
        game: TabularGame,
        pairs: Sequence[tuple[GlobalPolicy, LocalPolicy]],
        seed: int | np.random.SeedSequence,
        start: int,
        stop: int,
    ) -> np.ndarray:
        return crn_returns(
            game, pairs, n=self.n, k=self.k, horizon=self.horizon, seed=seed, start=start, stop=stop
        )

    def estimate(
        self,
        game: TabularGame,
        pairs: Sequence[tuple[GlobalPolicy, LocalPolicy]],
        seed: int | np.random.SeedSequence,
    ) -> list[Estimate]:
        out = self.returns(game, pairs, seed, 0, self.rollouts)
        std = out.std(axis=1, ddof=1) if self.rollouts > 1 else np.zeros(len(pairs))
        se = std / math.sqrt(self.rollouts)
        return [Estimate(float(m), float(s)) for m, s in zip(out.mean(axis=1), se, strict=True)]


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
