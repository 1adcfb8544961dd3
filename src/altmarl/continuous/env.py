"""The continuous warehouse of Appendix G.2 (SPEC §7 G.2), batched over episodes and agents.

State: the dispatcher's position ``s_g in [-2, 2]`` and the ``n`` robots' positions
``s_i in [-2, 2]``; a batch of ``B`` independent episodes is held as tensors ``s_g: [B]``,
``s_l: [B, n]``. Five global actions steer toward the bin centres
``tau = (-1.6, -0.8, 0, 0.8, 1.6)``; three local actions move by ``delta = (0, +0.05, -0.05)``:

* ``s_g' = clip(s_g + 0.6 (tau[a_g] - s_g) + N(0, 0.08^2), -2, 2)``
* ``s_i' = clip(s_i + delta[a_i] + N(0, 0.04^2), -2, 2)``
* ``r_g(s_g, a_g) = 5 exp(-(s_g - tau[a_g])^2 / (2 * 0.30^2))``
* ``r_l(s_i, s_g, a_i) = 10 exp(-(s_i - s_g)^2 / (2 * 0.20^2)) - 5 |delta[a_i]|``
* stage reward (SPEC eq. 1) ``r = r_g + (1/n) sum_i r_l``, rewards use the CURRENT state.

Start: ``s_g ~ U(-1, 1)``; two distinct bin centres are drawn per episode (ordered, so
either may hold the larger cluster); the first ``round(0.55 n)`` robots are
``N(c_1, 0.18^2)``, the rest ``N(c_2, 0.18^2)``, clipped to ``[-2, 2]``.

Bins. A robot's bin is its NEAREST bin centre. With centres 0.8 apart and the outer
centres 0.4 from the walls, this is exactly the partition of ``[-2, 2]`` into five
equal-width bins (boundaries -1.2, -0.4, 0.4, 1.2), so the two readings of the SPEC agree.
The true population mode is the bin holding most robots (ties: the lowest bin index).

Not a :class:`altmarl.game.TabularGame`: the states are continuous and ``r_l`` can be
negative (the ``-5 |delta|`` movement cost), so Assumption 2.2 (non-negative rewards) and
the tabular validation do not apply; nothing here relies on them.

The kernels are pure functions of tensors; every random draw is passed in (noise tensors)
or drawn from an explicit ``torch.Generator``, so a seed fixes a run.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from altmarl.errors import AltmarlError

#: Bin centres ``tau`` the five global actions steer toward.
BIN_CENTRES: tuple[float, ...] = (-1.6, -0.8, 0.0, 0.8, 1.6)
#: Offsets ``delta`` of the three local actions (stay, right, left).
LOCAL_OFFSETS: tuple[float, ...] = (0.0, 0.05, -0.05)
NUM_BINS = len(BIN_CENTRES)
NUM_GLOBAL_ACTIONS = len(BIN_CENTRES)
NUM_LOCAL_ACTIONS = len(LOCAL_OFFSETS)


@dataclass(frozen=True)
class ContinuousWarehouse:
    """Parameters of the G.2 scenario (defaults are the SPEC's)."""

    n: int = 500
    gamma: float = 0.95
    horizon: int = 100
    low: float = -2.0
    high: float = 2.0
    steer: float = 0.6  # fraction of the way to tau[a_g] per step
    global_noise: float = 0.08
    local_noise: float = 0.04
    rg_scale: float = 5.0
    rg_width: float = 0.30
    rl_scale: float = 10.0
    rl_width: float = 0.20
    move_cost: float = 5.0
    cluster_share: float = 0.55
    cluster_std: float = 0.18

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n < 1:
            raise AltmarlError(f"n = {self.n!r} must be an integer >= 1")
        if not 0.0 < self.gamma < 1.0:
            raise AltmarlError(f"gamma = {self.gamma} must lie in (0, 1)")
        if not isinstance(self.horizon, int) or self.horizon < 1:
            raise AltmarlError(f"horizon = {self.horizon!r} must be an integer >= 1")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def check_k(self, k: int) -> None:
        if not isinstance(k, int) or not 1 <= k <= self.n:
            raise AltmarlError(f"k = {k!r} must be an integer in [1, n = {self.n}]")


@functools.cache
def tau(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The bin centres as a tensor (one shared instance per dtype: never modify it)."""
    return torch.tensor(BIN_CENTRES, dtype=dtype)


@functools.cache
def delta(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The local offsets as a tensor (one shared instance per dtype: never modify it)."""
    return torch.tensor(LOCAL_OFFSETS, dtype=dtype)


# ---------------------------------------------------------------------------- kernels


def bin_index(s: torch.Tensor) -> torch.Tensor:
    """Nearest bin centre of positions ``s`` (any shape) as int64 in ``0..4``."""
    return torch.clamp(torch.round((s + 1.6) / 0.8), 0, NUM_BINS - 1).long()


def bin_counts(bins: torch.Tensor) -> torch.Tensor:
    """Per-row histogram of bin indices: ``bins [B, m] -> counts [B, 5]`` (float)."""
    out = torch.zeros(bins.shape[0], NUM_BINS, dtype=torch.float32)
    return out.scatter_add_(1, bins, torch.ones_like(bins, dtype=torch.float32))


def mode_bin(bins: torch.Tensor) -> torch.Tensor:
    """True population mode ``[B]`` (ties: lowest bin index) of ``bins [B, n]``."""
    counts = bin_counts(bins)
    # argmax returns the first maximal index for ties, which makes the tie rule explicit.
    return torch.argmax(counts, dim=1)


def subsample_histogram(bins: torch.Tensor, k: int, uniforms: torch.Tensor) -> torch.Tensor:
    """Normalised 5-bin histogram of ``k`` robots drawn WITHOUT replacement (SPEC §6).

    ``bins: [B, n]``; ``uniforms: [B, n]`` i.i.d. U(0,1): the ``k`` agents with the smallest
    keys form a uniformly random ``k``-subset. Returns ``[B, 5]`` summing to 1 per row.
    """
    if k == bins.shape[1]:
        idx = bins
    else:
        idx = torch.gather(bins, 1, subsample_indices(k, uniforms))
    return bin_counts(idx) / k


def subsample_indices(k: int, uniforms: torch.Tensor) -> torch.Tensor:
    """The robots of ``Delta_t``: the ``k`` smallest of the keys ``uniforms [B, n]``, as
    indices ``[B, k]`` (a uniformly random ``k``-subset without replacement, SPEC §6)."""
    return torch.topk(uniforms, k, dim=1, largest=False).indices


def global_reward(w: ContinuousWarehouse, s_g: torch.Tensor, a_g: torch.Tensor) -> torch.Tensor:
    """``r_g = 5 exp(-(s_g - tau[a_g])^2 / (2 * 0.30^2))``; shapes ``[B]``."""
    d = s_g - tau(s_g.dtype)[a_g]
    return w.rg_scale * torch.exp(-(d * d) / (2.0 * w.rg_width**2))


def local_reward(
    w: ContinuousWarehouse, s_l: torch.Tensor, s_g: torch.Tensor, a_l: torch.Tensor
) -> torch.Tensor:
    """``r_l = 10 exp(-(s_i - s_g)^2 / (2 * 0.20^2)) - 5 |delta[a_i]|``.

    ``s_l, a_l: [B, n]``, ``s_g: [B]``; returns ``[B, n]`` (may be negative).
    """
    d = s_l - s_g[:, None]
    bonus = w.rl_scale * torch.exp(-(d * d) / (2.0 * w.rl_width**2))
    return bonus - w.move_cost * delta(s_l.dtype)[a_l].abs()


def global_step(
    w: ContinuousWarehouse, s_g: torch.Tensor, a_g: torch.Tensor, z: torch.Tensor
) -> torch.Tensor:
    """``s_g' = clip(s_g + 0.6 (tau[a_g] - s_g) + 0.08 z)`` with standard normal ``z: [B]``."""
    nxt = s_g + w.steer * (tau(s_g.dtype)[a_g] - s_g) + w.global_noise * z
    return torch.clamp(nxt, w.low, w.high)


def local_step(
    w: ContinuousWarehouse, s_l: torch.Tensor, a_l: torch.Tensor, z: torch.Tensor
) -> torch.Tensor:
    """``s_i' = clip(s_i + delta[a_i] + 0.04 z)`` with standard normal ``z: [B, n]``."""
    nxt = s_l + delta(s_l.dtype)[a_l] + w.local_noise * z
    return torch.clamp(nxt, w.low, w.high)


def initial_states(
    w: ContinuousWarehouse, episodes: int, generator: torch.Generator, n: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Episode starts: ``s_g [B]`` uniform on ``[-1, 1]``, ``s_l [B, n]`` two clusters.

    Per episode an ordered pair of distinct bin centres ``(c_1, c_2)``; robots
    ``0..round(0.55 n)-1`` around ``c_1``, the rest around ``c_2``, std 0.18, clipped.
    """
    n = w.n if n is None else n
    s_g = torch.rand(episodes, generator=generator) * 2.0 - 1.0
    # Two distinct centres: the first uniform, the second uniform among the other four.
    first = torch.randint(0, NUM_BINS, (episodes,), generator=generator)
    shift = torch.randint(1, NUM_BINS, (episodes,), generator=generator)
    second = (first + shift) % NUM_BINS
    n1 = math.floor(w.cluster_share * n + 0.5)
    member_of_first = torch.arange(n) < n1
    centre = torch.where(member_of_first[None, :], tau()[first][:, None], tau()[second][:, None])
    s_l = centre + w.cluster_std * torch.randn(episodes, n, generator=generator)
    return s_g, torch.clamp(s_l, w.low, w.high)


def dispatcher_observation(s_g: torch.Tensor, histogram: torch.Tensor) -> torch.Tensor:
    """The dispatcher's input ``[B, 6]``: ``s_g`` then the normalised 5-bin histogram."""
    return torch.cat([s_g[:, None], histogram], dim=1)


def robot_observation(s_g: torch.Tensor, s_l: torch.Tensor) -> torch.Tensor:
    """The robots' inputs ``[B, n, 2]``: ``(s_g, s_i)`` per robot."""
    return torch.stack([s_g[:, None].expand_as(s_l), s_l], dim=-1)
