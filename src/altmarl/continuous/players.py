"""The continuous extension's players and UPDATE's evaluator, in the shapes of the generic
loop of Algorithm 14 (:class:`~altmarl.alternating.driver.Alternation`).

* :class:`LocalStep` -- the L step: policy-gradient updates (TRPO by default) of a copy of
  the shared robot network against the fixed dispatcher (:mod:`~altmarl.continuous.local_learn`);
* :class:`GlobalStep` -- the G step: the dispatcher classifier re-fitted on subsampled
  histograms of population snapshots (:mod:`~altmarl.continuous.global_learn`);
* :class:`CachedRolloutEvaluator` -- every pair valued by online execution on ONE set of
  evaluation episodes fixed for the run (common random numbers for every comparison);
  a pair already valued (the incumbent) is not simulated again.

What the steps carry from one to the next (the run's memo) is :class:`LearnerState`: the
critic (a baseline of the L step, never deployed) with its optimiser, and the population
snapshots of the last L-step batch, which the next G step fits on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from altmarl.alternating.evaluators import Estimate
from altmarl.alternating.moves import Proposal
from altmarl.continuous.env import ContinuousWarehouse
from altmarl.continuous.global_learn import GlobalLearnConfig, global_best_response
from altmarl.continuous.local_learn import LocalLearnConfig, local_best_response
from altmarl.continuous.networks import CriticNet, DispatcherNet, LocalPolicyNet
from altmarl.continuous.rollout import GreedyDispatcher, SampledLocal, simulate
from altmarl.oracles import Candidate, OracleInfo


def torch_generator(
    seed: int | np.random.SeedSequence, index: int | None = None
) -> torch.Generator:
    """A torch generator seeded from a ``SeedSequence`` (or ``SeedSequence([seed, index])``)."""
    if index is not None:
        assert isinstance(seed, int)
        seq = np.random.SeedSequence([seed, index])
    else:
        seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    state = seq.generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & ((1 << 63) - 1))


def step_generator(seed: np.random.SeedSequence) -> torch.Generator:
    """The torch stream of one step, from the loop's oracle seed (a child of
    ``SeedSequence([seed, step])``): drawn from ``SeedSequence([seed, step])`` itself, the
    stream the continuous extension has always used, so saved runs stay reproducible."""
    return torch_generator(np.random.SeedSequence(seed.entropy))


@dataclass
class LearnerState:
    """The continuous run's memo: the L step's critic and optimiser (updated in place by
    every L step) and the population snapshots ``(s_g [S], s_l [S, n])`` of the last batch."""

    critic: CriticNet
    critic_optimiser: torch.optim.Optimizer
    snapshots: tuple[torch.Tensor, torch.Tensor] | None = None


@dataclass(frozen=True, kw_only=True)
class PolicyGradientInfo(OracleInfo):
    """An L step's report: ``value`` is the mean return of its last batch."""

    kl: float = 0.0
    accepted_steps: int = 0
    step_fraction: float = 0.0
    critic_loss: float = math.nan


@dataclass(frozen=True, kw_only=True)
class ClassifierInfo(OracleInfo):
    """A G step's report: the classifier's last loss and its training accuracy."""

    g_loss: float = math.nan
    g_train_accuracy: float = math.nan


@dataclass(frozen=True)
class LocalStep:
    """The L step as a :class:`~altmarl.alternating.moves.Move` (candidate named after the
    algorithm, e.g. ``trpo``)."""

    config: LocalLearnConfig

    def __call__(
        self,
        game: ContinuousWarehouse,
        pair: tuple[DispatcherNet, LocalPolicyNet],
        k: int,
        *,
        seed: np.random.SeedSequence,
        memo: LearnerState,
    ) -> Proposal:
        dispatcher, policy = pair
        t0 = time.perf_counter()
        c = self.config
        learn = local_best_response
        if c.algo == "sb3-trpo":  # stable-baselines3 is imported only when asked for
            from altmarl.continuous.sb3_learner import sb3_local_best_response as learn
        proposal, info = learn(
            game,
            GreedyDispatcher(dispatcher),
            policy,
            memo.critic,
            memo.critic_optimiser,
            k,
            step_generator(seed),
            c,
        )
        snapshots = (info["s_g"].reshape(-1), info["s_l"].reshape(-1, game.n))
        report = PolicyGradientInfo(
            value=float(info["batch_return"]),
            samples=c.updates * c.episodes * game.horizon * game.n,
            episodes=c.updates * c.episodes,
            iterations=c.updates,
            seconds=time.perf_counter() - t0,
            kl=float(info["kl"]),
            accepted_steps=int(info["accepted_steps"]),
            step_fraction=float(info["step_fraction"]),
            critic_loss=float(info["critic_loss"]),
        )
        candidate = Candidate(c.algo, (dispatcher, proposal))
        return Proposal((candidate,), report, replace(memo, snapshots=snapshots))


@dataclass(frozen=True)
class GlobalStep:
    """The G step as a :class:`~altmarl.alternating.moves.Move`: the dispatcher classifier
    fitted to the true population mode (candidate ``mode-classifier``). Without snapshots
    yet (a global-first run) it simulates one batch of the current pair for them."""

    config: GlobalLearnConfig
    snapshot_episodes: int = 2

    def __call__(
        self,
        game: ContinuousWarehouse,
        pair: tuple[DispatcherNet, LocalPolicyNet],
        k: int,
        *,
        seed: np.random.SeedSequence,
        memo: LearnerState,
    ) -> Proposal:
        dispatcher, policy = pair
        t0 = time.perf_counter()
        gen = step_generator(seed)
        snapshots = memo.snapshots
        if snapshots is None:
            roll = simulate(
                game,
                GreedyDispatcher(dispatcher),
                SampledLocal(policy),
                k,
                self.snapshot_episodes,
                gen,
                record=True,
            )
            assert roll.s_g is not None and roll.s_l is not None
            snapshots = (roll.s_g.reshape(-1), roll.s_l.reshape(-1, game.n))
        proposal, info = global_best_response(
            dispatcher, snapshots[0], snapshots[1], k, gen, self.config
        )
        report = ClassifierInfo(
            samples=self.config.samples,
            iterations=self.config.epochs,
            seconds=time.perf_counter() - t0,
            g_loss=float(info["g_loss"]),
            g_train_accuracy=float(info["g_train_accuracy"]),
        )
        candidate = Candidate("mode-classifier", (proposal, policy))
        return Proposal((candidate,), report, replace(memo, snapshots=snapshots))


@dataclass
class CachedRolloutEvaluator:
    """Values pairs on ``episodes`` evaluation episodes drawn from
    ``SeedSequence([seed, stream])`` (the same episodes for every pair and every step:
    the per-step seed the loop passes is not used). Results are cached per pair of network
    objects (held, so their identities stay unique)."""

    k: int
    episodes: int
    seed: int
    stream: int
    _cache: dict[tuple[int, int], tuple[Any, Any, Estimate]] = field(default_factory=dict)

    def estimate(
        self,
        game: ContinuousWarehouse,
        pairs: Sequence[tuple[DispatcherNet, LocalPolicyNet]],
        seed: int | np.random.SeedSequence,
    ) -> list[Estimate]:
        out = []
        for dispatcher, policy in pairs:
            key = (id(dispatcher), id(policy))
            if key not in self._cache:
                roll = simulate(
                    game,
                    GreedyDispatcher(dispatcher),
                    SampledLocal(policy),
                    self.k,
                    self.episodes,
                    torch_generator(self.seed, self.stream),
                )
                returns = roll.returns.double()
                stderr = float(returns.std() / self.episodes**0.5) if self.episodes > 1 else 0.0
                est = Estimate(float(roll.returns.mean()), stderr)
                self._cache[key] = (dispatcher, policy, est)
            out.append(self._cache[key][2])
        return out
