"""The continuous extension's players and UPDATE's evaluator, in the shapes of the generic
loop of Algorithm 14 (:class:`~altmarl.alternating.driver.Alternation`).

* :class:`LocalStep` -- the L step: policy-gradient updates (TRPO by default) of a copy of
  the shared robot network against the fixed dispatcher (:mod:`~altmarl.continuous.local_learn`);
* :class:`GlobalStep` -- the G step: the dispatcher's best response in return against the
  fixed robots (:mod:`~altmarl.continuous.global_response`) and the best constant it found;
* :class:`CachedRolloutEvaluator` -- UPDATE's valuations by online execution with common
  random numbers: robot proposals on one set of episodes fixed for the run (the incumbent
  cached), dispatcher proposals on fresh episodes, all candidates in one batch;
* :class:`PairedKeepBetter` -- UPDATE's rule on those paired valuations.

What the steps carry from one to the next (the run's memo) is :class:`LearnerState`: the
critic (a baseline of the L step, never deployed) with its optimiser, the population
snapshots of the last L-step batch, from which the next G step draws its states, and the G
step's regression model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from altmarl.alternating.evaluators import Estimate
from altmarl.alternating.moves import Proposal
from altmarl.alternating.update import Decision
from altmarl.continuous.env import ContinuousWarehouse
from altmarl.continuous.global_response import (
    AdvantageModel,
    ReturnResponseConfig,
    Snapshots,
    constant_dispatcher,
    global_best_response,
)
from altmarl.continuous.local_learn import LocalLearnConfig, local_best_response
from altmarl.continuous.networks import CriticNet, DispatcherNet, LocalPolicyNet
from altmarl.continuous.rollout import (
    GreedyDispatcher,
    Rollout,
    SampledLocal,
    simulate,
    simulate_dispatchers,
    torch_generator,
)
from altmarl.oracles import Candidate, OracleInfo

#: A pair of the continuous extension: ``(dispatcher, robot policy)``.
NetPair = tuple[DispatcherNet, LocalPolicyNet]


def step_generator(seed: np.random.SeedSequence) -> torch.Generator:
    """The torch stream of one step, from the loop's oracle seed (a child of
    ``SeedSequence([seed, step])``): drawn from ``SeedSequence([seed, step])`` itself, the
    stream the continuous extension has always used, so saved runs stay reproducible."""
    return torch_generator(np.random.SeedSequence(seed.entropy))


@dataclass
class LearnerState:
    """The continuous run's memo: the L step's critic and optimiser (updated in place by
    every L step), the population snapshots ``(s_g [H, B], s_l [H, B, n])`` of the last
    L-step batch, and the G step's running regression model (updated in place by every G
    step; made from the incumbent dispatcher at the first)."""

    critic: CriticNet
    critic_optimiser: torch.optim.Optimizer
    snapshots: Snapshots | None = None
    advantage_model: AdvantageModel | None = None


@dataclass(frozen=True, kw_only=True)
class PolicyGradientInfo(OracleInfo):
    """An L step's report: ``value`` is the mean return of its last batch."""

    kl: float = 0.0
    accepted_steps: int = 0
    step_fraction: float = 0.0
    critic_loss: float = math.nan


@dataclass(frozen=True, kw_only=True)
class ReturnResponseInfo(OracleInfo):
    """A G step's report: the fit's loss, how much the target matters (``g_spread``, the mean
    of ``max_a Q - min_a Q``), the share of the step's observations where the regressed
    dispatcher acts differently from the incumbent (``g_changed``), the bin of the constant
    candidate (``g_constant``) and the share where it differs (``g_constant_changed``)."""

    g_loss: float = math.nan
    g_spread: float = math.nan
    g_changed: float = math.nan
    g_constant: int = -1
    g_constant_changed: float = math.nan


@dataclass(frozen=True)
class LocalStep:
    """The L step as a :class:`~altmarl.alternating.moves.Move` (candidate named after the
    algorithm, e.g. ``trpo``)."""

    config: LocalLearnConfig

    def __call__(
        self,
        game: ContinuousWarehouse,
        pair: NetPair,
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
        report = PolicyGradientInfo(
            value=float(info["batch_return"]),
            samples=c.updates * c.episodes * game.horizon * min(c.learners, game.n),
            episodes=c.updates * c.episodes,
            iterations=c.updates,
            seconds=time.perf_counter() - t0,
            kl=float(info["kl"]),
            accepted_steps=int(info["accepted_steps"]),
            step_fraction=float(info["step_fraction"]),
            critic_loss=float(info["critic_loss"]),
        )
        candidate = Candidate(c.algo, (dispatcher, proposal))
        memo = replace(memo, snapshots=(info["s_g"], info["s_l"]))
        return Proposal((candidate,), report, memo)


@dataclass(frozen=True)
class GlobalStep:
    """The G step as a :class:`~altmarl.alternating.moves.Move`: the dispatcher's best
    response in return (candidate ``return-response``) and the best constant dispatcher the
    step found (candidate ``constant-<bin>``), each only if it acts differently from the
    incumbent on some observation the step drew (else the incumbent itself, ``no-change``,
    which UPDATE values without a simulation). Without snapshots yet (a global-first run)
    its states are all fresh starts."""

    config: ReturnResponseConfig

    def __call__(
        self,
        game: ContinuousWarehouse,
        pair: NetPair,
        k: int,
        *,
        seed: np.random.SeedSequence,
        memo: LearnerState,
    ) -> Proposal:
        dispatcher, policy = pair
        t0 = time.perf_counter()
        c = self.config
        model = memo.advantage_model or AdvantageModel.starting_from(dispatcher, c.lr)
        proposal, info = global_best_response(
            game,
            dispatcher,
            SampledLocal(policy),
            k,
            memo.snapshots,
            model,
            step_generator(seed),
            c,
        )
        report = ReturnResponseInfo(
            samples=c.states * c.robots * c.lookahead,
            iterations=c.epochs,
            seconds=time.perf_counter() - t0,
            g_loss=float(info["g_loss"]),
            g_spread=float(info["g_spread"]),
            g_changed=float(info["g_changed"]),
            g_constant=int(info["g_constant"]),
            g_constant_changed=float(info["g_constant_changed"]),
        )
        constant = constant_dispatcher(
            int(info["g_constant"]), sees_global_state=dispatcher.sees_global_state
        )
        with_constant = (constant, policy)
        offers = (
            (info["g_changed"], Candidate("return-response", (proposal, policy))),
            (
                info["g_constant_changed"],
                Candidate(f"constant-{info['g_constant']}", with_constant),
            ),
        )
        # a candidate that acts as the incumbent on every state the step drew is not offered
        candidates = tuple(cand for changed, cand in offers if changed > 0)
        if not candidates:
            candidates = (Candidate("no-change", pair),)
        return Proposal(candidates, report, replace(memo, advantage_model=model))


@dataclass(frozen=True)
class Valuation:
    """A pair's value on the evaluation episodes: the estimate, the per-episode returns
    ``[E]`` and the dispatcher's observations ``[H, E, 6]`` and actions ``[H, E]``."""

    pair: NetPair  # held, so the ids of the cache's keys stay unique
    estimate: Estimate
    returns: torch.Tensor
    observations: torch.Tensor
    actions: torch.Tensor


@dataclass
class CachedRolloutEvaluator:
    """UPDATE's valuations by online execution of ``episodes`` episodes, with common random
    numbers for every comparison (the random draws do not depend on the policies).

    * **Robot policies** (a comparison whose candidates change the robots) are valued on ONE
      set of episodes fixed for the run, ``SeedSequence([seed, stream])``, and cached per pair
      of network objects: the incumbent is not simulated again. A trust-region step changes
      every robot's behaviour a little, with an effect of one sign across start
      configurations; the fixed set measures it with little noise.
    * **Dispatchers** (the candidates differ from the incumbent only in the dispatcher) are
      compared on fresh episodes from the step's evaluation seed, the incumbent simulated
      again on them. A dispatcher's decisions help in some start configurations and hurt in
      others; on a small fixed set, comparison after comparison would keep whichever
      dispatcher suits those few episodes (in the first trials a k = 1 run ended 13 below its
      best constant that way, while UPDATE's four episodes ranked it above).

    The dispatchers of one comparison run as one batch with the same draws
    (:func:`~altmarl.continuous.rollout.simulate_dispatchers`). On the fixed episodes, a
    dispatcher whose greedy bins equal a valued one's (same robot policy) on every
    observation of that valuation is not simulated: equal actions at every step give the
    same episodes, step by step, and the same value. A comparison of the incumbent with
    itself (a step with nothing to propose) uses the cached valuation.

    ``gains`` records, for every call, the best candidate's paired gain over the first pair
    (the incumbent, as UPDATE asks) and its standard error over the episodes; ``last_fresh``
    whether the last call compared dispatchers on fresh episodes; ``simulated`` counts the
    simulations run."""

    k: int
    episodes: int
    seed: int
    stream: int
    #: a dispatcher comparison whose best candidate leads by less than ``z`` standard errors
    #: gets ``episodes`` more fresh episodes, up to ``max_fresh_episodes`` in all (a
    #: sequential test: with more looks, a candidate that gains nothing passes ``z`` more
    #: often than at one look)
    max_fresh_episodes: int = 0
    z: float = 2.0
    _cache: dict[tuple[int, int], Valuation] = field(default_factory=dict)
    gains: list[tuple[float, float]] = field(default_factory=list)
    simulated: int = 0
    last_fresh: bool = False

    def estimate(
        self,
        game: ContinuousWarehouse,
        pairs: Sequence[NetPair],
        seed: int | np.random.SeedSequence,
    ) -> list[Estimate]:
        robots = pairs[0][1]
        unchanged = all(pair[0] is pairs[0][0] and pair[1] is robots for pair in pairs)
        self.last_fresh = not unchanged and all(pair[1] is robots for pair in pairs[1:])
        if self.last_fresh:
            fresh = np.random.SeedSequence(seed) if isinstance(seed, int) else seed
            vals = self._simulate_dispatchers(game, pairs, fresh)
        else:
            vals = [self.valuation(game, pair) for pair in pairs]
        if len(vals) > 1:
            self.gains.append(_best_gain(vals))
        return [v.estimate for v in vals]

    def valuation(self, game: ContinuousWarehouse, pair: NetPair) -> Valuation:
        """``pair`` on the run's fixed episodes (cached)."""
        key = (id(pair[0]), id(pair[1]))
        if key not in self._cache:
            fixed = np.random.SeedSequence([self.seed, self.stream])
            self._cache[key] = _same_as(pair, self._cache.values()) or self._simulate(
                game, pair, fixed
            )
        return self._cache[key]

    def _simulate_dispatchers(
        self, game: ContinuousWarehouse, pairs: Sequence[NetPair], seed: np.random.SeedSequence
    ) -> list[Valuation]:
        """Dispatchers with the same robots on the same fresh episodes, in batches of
        ``episodes`` while the comparison is undecided (:func:`_undecided`)."""
        vals = self._dispatcher_batch(game, pairs, seed)
        batch = 1
        while self.episodes * (batch + 1) <= self.max_fresh_episodes and _undecided(vals, self.z):
            more_seed = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, batch))
            more = self._dispatcher_batch(game, pairs, more_seed)
            vals = [_joined(a, b) for a, b in zip(vals, more, strict=True)]
            batch += 1
        return vals

    def _dispatcher_batch(
        self, game: ContinuousWarehouse, pairs: Sequence[NetPair], seed: np.random.SeedSequence
    ) -> list[Valuation]:
        """Dispatchers with the same robots on the same fresh episodes, in one batch."""
        distinct = list({id(pair[0]): pair for pair in pairs}.values())
        self.simulated += len(distinct)
        rolls = simulate_dispatchers(
            game,
            [GreedyDispatcher(d) for d, _ in distinct],
            SampledLocal(distinct[0][1]),
            self.k,
            self.episodes,
            torch_generator(seed),
        )
        by_id = {id(p[0]): _valuation(p, r) for p, r in zip(distinct, rolls, strict=True)}
        return [by_id[id(pair[0])] for pair in pairs]

    def _simulate(
        self, game: ContinuousWarehouse, pair: NetPair, seed: np.random.SeedSequence
    ) -> Valuation:
        dispatcher, policy = pair
        self.simulated += 1
        roll = simulate(
            game,
            GreedyDispatcher(dispatcher),
            SampledLocal(policy),
            self.k,
            self.episodes,
            torch_generator(seed),
        )
        return _valuation(pair, roll)


def _best_gain(vals: Sequence[Valuation]) -> tuple[float, float]:
    """The best candidate's paired gain over the first pair (``vals[1:]`` against
    ``vals[0]``, episode by episode) and its standard error."""
    diffs = [(v.returns - vals[0].returns).double() for v in vals[1:]]
    best = max(diffs, key=lambda d: float(d.mean()))
    se = float(best.std() / len(best) ** 0.5) if len(best) > 1 else 0.0
    return float(best.mean()), se


def _undecided(vals: Sequence[Valuation], z: float) -> bool:
    """Whether the best candidate leads the first pair, but by at most ``z`` standard errors."""
    if len(vals) < 2:
        return False
    mean, se = _best_gain(vals)
    return 0.0 < mean <= z * se


def _joined(a: Valuation, b: Valuation) -> Valuation:
    """A valuation over the episodes of ``a`` and then of ``b`` (same pair)."""
    returns = torch.cat([a.returns, b.returns])
    return _estimate(
        a.pair,
        returns,
        torch.cat([a.observations, b.observations], dim=1),
        torch.cat([a.actions, b.actions], dim=1),
    )


def _estimate(
    pair: NetPair, returns: torch.Tensor, observations: torch.Tensor, actions: torch.Tensor
) -> Valuation:
    episodes = returns.shape[0]
    values = returns.double()
    stderr = float(values.std() / episodes**0.5) if episodes > 1 else 0.0
    return Valuation(pair, Estimate(float(returns.mean()), stderr), returns, observations, actions)


def _valuation(pair: NetPair, roll: Rollout) -> Valuation:
    return _estimate(pair, roll.returns, roll.dispatcher_obs, roll.global_actions)


@dataclass(frozen=True)
class PairedKeepBetter:
    """UPDATE for the continuous run (a documented simplification of SPEC §5, never
    terminating): keep the better pair, judged on :class:`CachedRolloutEvaluator`'s paired
    episodes.

    A robot-policy proposal is accepted iff its value is larger (``KeepBetter``). A dispatcher
    proposal is accepted only if its paired gain exceeds ``z`` standard errors: its
    comparison runs on a few fresh episodes whose outcomes vary widely with the start, and a
    dispatcher accepted on luck steers the robots' next best responses (a constant accepted
    early on four lucky episodes leads the robots to learn the centre, after which no
    dispatcher that reads its sample can win)."""

    evaluator: CachedRolloutEvaluator
    z: float = 2.0
    radius: float = 0.0

    def decide(self, old: Estimate, new: Estimate) -> Decision:
        if not new.value > old.value:
            return "reject"
        gain, stderr = self.evaluator.gains[-1]
        if self.evaluator.last_fresh and not gain > self.z * stderr:
            return "reject"
        return "accept"


def _same_as(pair: NetPair, valued: Iterable[Valuation]) -> Valuation | None:
    """A valuation of the same robot policy whose dispatcher acted as ``pair``'s would at
    every step (then ``pair`` runs the same episodes), re-labelled with ``pair``."""
    dispatcher, policy = pair
    for val in valued:
        if val.pair[1] is policy:
            with torch.inference_mode():
                acts = GreedyDispatcher(dispatcher).act(val.observations, val.actions)
            if torch.equal(acts, val.actions):
                return replace(val, pair=pair)
    return None
