"""The loop of ALTERNATING-MARL (Algorithm 14, SPEC §5), for any game and policy types.

Each alternation asks the players in ``order`` in turn for a best response to the other's
current policy (a :class:`~altmarl.alternating.moves.Move` per player); every proposal goes
through UPDATE (:func:`~altmarl.alternating.update.judge`). The loop knows nothing of
tabular games or networks: the tabular library (:class:`~altmarl.alternating.AlternatingMARL`)
and the continuous extension plug their own moves, evaluator and rule into it.

When the run stops (:func:`should_stop`). The paper stops at the first overlap
(``"first-overlap"``). An overlap only says that the player who just moved has no improving
best response, so by default (``"all-players"``) the run stops once EVERY player's latest
proposal since the last accepted step failed to improve (overlap or reject): only then is
the pair an approximate best response for both players, which is what an ``eps``-NE needs.
``"never"`` always makes every alternation.

Reproducibility: all randomness of step ``s`` is derived from ``SeedSequence([seed, s])``
(its first child seeds the oracle, its second the evaluation), so a run resumed from a
checkpoint ends exactly as an uninterrupted run with the same seed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from altmarl.alternating.evaluators import Pair, PairEvaluator
from altmarl.alternating.history import HistoryRow
from altmarl.alternating.moves import Move
from altmarl.alternating.update import DecideRule, UpdateRule, judge


@dataclass(frozen=True)
class RunState:
    """Where a run stands after ``step`` proposals (what a checkpoint holds).

    memo : what the moves carry from step to step (the last global ``Qhat``, tabular).
    seconds : wall time spent so far (across resumptions).
    """

    global_policy: Any
    local_policy: Any
    history: tuple[HistoryRow, ...] = ()
    step: int = 0
    terminated: bool = False
    seconds: float = 0.0
    memo: Any = None

    @property
    def pair(self) -> Pair:
        return self.global_policy, self.local_policy


@dataclass(frozen=True)
class Schedule:
    """Who moves at each step: ``alternations`` rounds of the players in ``order``."""

    order: tuple[str, ...]
    alternations: int
    seed: int

    @property
    def total(self) -> int:
        return self.alternations * len(self.order)

    def seeds(self, step: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
        """``(oracle seed, evaluation seed)`` of ``step``."""
        oracle, evaluation = np.random.SeedSequence([self.seed, step]).spawn(2)
        return oracle, evaluation


def should_stop(history: tuple[HistoryRow, ...], stop_rule: str, order: tuple[str, ...]) -> bool:
    """Whether the run stops after the last row of ``history`` (see the module docstring)."""
    last = history[-1].decision
    if stop_rule == "never":
        return False
    if stop_rule == "first-overlap":
        return last == "terminate"
    if last == "accept":
        return False
    confirmed: set[str] = set()
    for row in reversed(history):
        if row.decision == "accept":
            break
        confirmed.add(row.player)
    return confirmed >= set(order)


@dataclass(frozen=True)
class Alternation:
    """Algorithm 14's loop: the game, the players' moves, UPDATE's evaluator and rule."""

    game: Any
    k: int
    moves: Mapping[str, Move]
    evaluator: PairEvaluator
    rule: UpdateRule | DecideRule
    schedule: Schedule
    stop_rule: str = "all-players"

    def step(self, state: RunState) -> RunState:
        """One proposal and UPDATE's decision on it."""
        sched = self.schedule
        alternation, phase = divmod(state.step, len(sched.order))
        player = sched.order[phase]
        oracle_seed, eval_seed = sched.seeds(state.step)
        proposal = self.moves[player](
            self.game, state.pair, self.k, seed=oracle_seed, memo=state.memo
        )
        t1 = time.perf_counter()
        verdict = judge(
            self.evaluator, self.rule, self.game, state.pair, proposal.candidates, eval_seed
        )
        old, new, eps = verdict.old, verdict.new, self.rule.radius
        comp = verdict.comparison
        info = proposal.info
        row = HistoryRow(
            step=state.step,
            alternation=alternation,
            player=player,
            decision=verdict.decision,
            candidate=verdict.candidate.name,
            old_value=old.value,
            old_stderr=old.stderr,
            new_value=new.value,
            new_stderr=new.stderr,
            eps_tol=eps,
            old_low=verdict.old_interval[0],
            old_high=verdict.old_interval[1],
            new_low=verdict.new_interval[0],
            new_high=verdict.new_interval[1],
            oracle_value=info.value,
            samples=int(info.samples),
            episodes=int(info.episodes),
            iterations=int(info.iterations),
            oracle_seconds=float(info.seconds),
            update_seconds=time.perf_counter() - t1,
            difference=comp.difference,
            difference_stderr=comp.stderr,
            half_width=comp.half_width,
            bias=comp.bias,
            rollouts=comp.rollouts,
            selection_rollouts=comp.selection_rollouts,
            details=_numbers(info),
        )
        pi_g, pi_l = verdict.candidate.policy if verdict.decision == "accept" else state.pair
        history = (*state.history, row)
        return replace(
            state,
            global_policy=pi_g,
            local_policy=pi_l,
            history=history,
            step=state.step + 1,
            terminated=should_stop(history, self.stop_rule, sched.order),
            memo=proposal.memo,
        )

    def run(
        self,
        state: RunState,
        *,
        on_step: Callable[[RunState], None] | None = None,
        progress: bool | None = None,
    ) -> RunState:
        """Step until every alternation is made or the stop rule fires; ``on_step(state)``
        after each proposal (checkpoints)."""
        t0 = time.perf_counter()
        elapsed0 = state.seconds
        total = self.schedule.total
        show = sys.stderr.isatty() if progress is None else progress
        bar = tqdm(total=total, initial=state.step, disable=not show, desc="alternations")
        while state.step < total and not state.terminated:
            state = self.step(state)
            state = replace(state, seconds=elapsed0 + time.perf_counter() - t0)
            bar.update(1)
            if on_step is not None:
                on_step(state)
        bar.close()
        return state


def _numbers(info: Any) -> dict[str, float]:
    """The oracle's numeric diagnostics beyond :class:`~altmarl.oracles.OracleInfo`'s own."""
    base = {"value", "samples", "episodes", "iterations", "seconds"}
    out = {}
    for key, val in vars(info).items():
        if key not in base and isinstance(val, int | float) and not isinstance(val, bool):
            out[key] = float(val)
    return out
