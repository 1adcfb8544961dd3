"""Stochastic rewards (SPEC §3, Appendix F).

A :class:`RewardSampler` draws rewards from bounded, non-negative distributions whose
means are the game's ``r_g`` and ``r_l`` (Assumption F.1), so every result for
deterministic rewards still speaks of the same ``Q_k``. The randomized empirical
adapted Bellman operator (Definition F.2) averages sampled rewards as well as sampled
next states; see :func:`altmarl.glearn.empirical_adapted_bellman`.

Two samplers are provided:

* :class:`UniformRewardNoise` -- ``r + U(-h, h)`` with ``h = min(width, r)`` per entry,
  so the support ``[r - h, r + h]`` stays in ``[0, r + width]``;
* :class:`BernoulliRewards` -- ``scale * Bernoulli(r / scale)``, values in ``{0, scale}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from altmarl.errors import AltmarlError


@runtime_checkable
class RewardSampler(Protocol):
    """Bounded reward distributions around a game's mean rewards (Appendix F)."""

    def sample_global(
        self, game: Any, s_g: int, a_g: int, rng: np.random.Generator, size: int
    ) -> np.ndarray:
        """``size`` i.i.d. draws of the global reward at ``(s_g, a_g)``, mean ``r_g[s_g, a_g]``."""
        ...

    def sample_local(
        self, game: Any, s_l: int, s_g: int, a_l: int, rng: np.random.Generator, size: int
    ) -> np.ndarray:
        """``size`` i.i.d. draws of a local reward, mean ``r_l[s_l, s_g, a_l]``."""
        ...

    def bounds(self, game: Any) -> tuple[float, float]:
        """``(rg_max, rl_max)`` of the supports (Assumption F.1): every draw lies in
        ``[0, rg_max]`` resp. ``[0, rl_max]``."""
        ...


@dataclass(frozen=True)
class UniformRewardNoise:
    """``r + U(-h, h)`` with ``h = min(width, r)``: mean ``r``, support in ``[0, r + width]``."""

    width: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.width) and self.width >= 0):
            raise AltmarlError(f"width = {self.width} must be a finite number >= 0")

    def _draw(self, mean: float, rng: np.random.Generator, size: int) -> np.ndarray:
        h = min(self.width, mean)
        return mean + rng.uniform(-h, h, size=size)

    def sample_global(
        self, game: Any, s_g: int, a_g: int, rng: np.random.Generator, size: int
    ) -> np.ndarray:
        return self._draw(float(game.r_g[s_g, a_g]), rng, size)

    def sample_local(
        self, game: Any, s_l: int, s_g: int, a_l: int, rng: np.random.Generator, size: int
    ) -> np.ndarray:
        return self._draw(float(game.r_l[s_l, s_g, a_l]), rng, size)

    def bounds(self, game: Any) -> tuple[float, float]:
        hg = np.minimum(self.width, game.r_g)
        hl = np.minimum(self.width, game.r_l)
        return float((game.r_g + hg).max()), float((game.r_l + hl).max())


@dataclass(frozen=True)
class BernoulliRewards:
    """``scale * Bernoulli(r / scale)``: mean ``r``, values in ``{0, scale}``.

    ``scale`` must be at least every mean reward (checked on first use with a game).
    """

    scale: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise AltmarlError(f"scale = {self.scale} must be a finite number > 0")

    def _draw(self, mean: float, rng: np.random.Generator, size: int) -> np.ndarray:
        if mean > self.scale:
            raise AltmarlError(
                f"BernoulliRewards(scale={self.scale}) cannot have mean {mean}: "
                "scale must be >= every reward"
            )
        return self.scale * (rng.random(size) < mean / self.scale)

    def sample_global(
        self, game: Any, s_g: int, a_g: int, rng: np.random.Generator, size: int
    ) -> np.ndarray:
        return self._draw(float(game.r_g[s_g, a_g]), rng, size)

    def sample_local(
        self, game: Any, s_l: int, s_g: int, a_l: int, rng: np.random.Generator, size: int
    ) -> np.ndarray:
        return self._draw(float(game.r_l[s_l, s_g, a_l]), rng, size)

    def bounds(self, game: Any) -> tuple[float, float]:
        return self.scale, self.scale


def check_reward_sampler(sampler: Any) -> RewardSampler:
    """Boundary check for a ``reward_sampler=`` argument."""
    if not isinstance(sampler, RewardSampler):
        raise AltmarlError(
            "reward_sampler must provide sample_global, sample_local and bounds "
            f"(the RewardSampler protocol); got {type(sampler).__name__}"
        )
    return sampler
