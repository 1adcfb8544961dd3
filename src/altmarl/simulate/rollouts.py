"""Results of online execution (:class:`Rollouts`) and the simulator interface."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from altmarl.game import TabularGame
from altmarl.policies import GlobalActor, LocalPolicy

SIMULATORS: tuple[str, ...] = ("counts", "agents")


@dataclass(frozen=True)
class Rollouts:
    """Results of online execution over ``R`` independent rollouts.

    returns : ``[R]`` discounted returns ``sum_{t<H} gamma^t r_t``.
    occupancy : ``[R, H, S_l]`` fraction of agents in each local state at the start of
        each step (``record=True`` only).
    global_states, global_actions, population_mode : ``[R, H]`` ``s_g(t)``, ``a_g(t)`` and the
        true population mode ``argmax_j counts_j(t)`` (lowest index on ties).
    sampled_counts : ``[R, H, S_l]`` the count vector of the ``k`` agents the global agent
        sampled at each step (what ``a_g(t)`` was chosen from).
    """

    returns: np.ndarray
    n: int
    k: int
    horizon: int
    gamma: float
    simulator: str
    seconds: float
    occupancy: np.ndarray | None = None
    global_states: np.ndarray | None = None
    global_actions: np.ndarray | None = None
    population_mode: np.ndarray | None = None
    sampled_counts: np.ndarray | None = None

    @property
    def rollouts(self) -> int:
        return int(self.returns.shape[0])

    @property
    def mean(self) -> float:
        return float(self.returns.mean())

    @property
    def std(self) -> float:
        return float(self.returns.std(ddof=1)) if self.rollouts > 1 else 0.0

    @property
    def stderr(self) -> float:
        return self.std / np.sqrt(self.rollouts)

    def ci(self, z: float = 1.96) -> tuple[float, float]:
        """Normal-approximation confidence interval of the mean return."""
        return self.mean - z * self.stderr, self.mean + z * self.stderr

    @property
    def mode_mismatch_rate(self) -> float | None:
        """Fraction of steps where ``a_g`` differs from the true population mode."""
        if self.global_actions is None or self.population_mode is None:
            return None
        return float(np.mean(self.global_actions != self.population_mode))


class Simulator(Protocol):
    """A simulator of online execution (Algorithm 5)."""

    name: str

    def run(
        self,
        game: TabularGame,
        global_policy: GlobalActor,
        local_policy: LocalPolicy,
        n: int,
        k: int,
        rollouts: int,
        horizon: int,
        rng: np.random.Generator,
        record: bool = False,
    ) -> Rollouts: ...


_RECORDED = (
    "occupancy",
    "global_states",
    "global_actions",
    "population_mode",
    "sampled_counts",
)


class Recorder:
    """Per-step trajectories of a batch of rollouts (``record=True``)."""

    def __init__(self, R: int, H: int, L: int) -> None:
        self.occupancy = np.zeros((R, H, L))
        self.global_states = np.zeros((R, H), dtype=np.int64)
        self.global_actions = np.zeros((R, H), dtype=np.int64)
        self.population_mode = np.zeros((R, H), dtype=np.int64)
        self.sampled_counts = np.zeros((R, H, L), dtype=np.int64)

    def log(self, t, occ, s_g, a_g, mode, sampled) -> None:
        self.occupancy[:, t] = occ
        self.global_states[:, t] = s_g
        self.global_actions[:, t] = a_g
        self.population_mode[:, t] = mode
        self.sampled_counts[:, t] = sampled

    @classmethod
    def concat(cls, recs: list[Recorder]) -> Recorder:
        out = cls.__new__(cls)
        for name in _RECORDED:
            setattr(out, name, np.concatenate([getattr(r, name) for r in recs]))
        return out


def finish_rollouts(returns, rec, n, k, horizon, gamma, name, t0) -> Rollouts:
    extra = {}
    if rec is not None:
        extra = {name: getattr(rec, name) for name in _RECORDED}
    return Rollouts(
        returns=returns,
        n=n,
        k=k,
        horizon=horizon,
        gamma=gamma,
        simulator=name,
        seconds=time.perf_counter() - t0,
        **extra,
    )
