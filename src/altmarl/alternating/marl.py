"""ALTERNATING-MARL on a tabular game: the configuration wired to the loop of Algorithm 14.

:class:`AlternatingMARL` builds the players' moves from the configured oracles (G-LEARN,
optionally :class:`~altmarl.alternating.global_steps.ReusedAnswer` and
:class:`~altmarl.alternating.global_steps.Safeguarded`; an L-LEARN oracle, optionally
:class:`~altmarl.alternating.local_steps.NAwareLocal`), UPDATE's
evaluator and rule, runs :class:`~altmarl.alternating.driver.Alternation` with a checkpoint
after every proposal (:class:`~altmarl.alternating.rundir.RunDirectory`), and evaluates the
final pair (SPEC §7 protocol: ``final_rollouts`` x ``final_horizon``, or exactly).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from altmarl.alternating.config import AlternatingConfig
from altmarl.alternating.driver import Alternation, RunState, Schedule
from altmarl.alternating.evaluators import ExactEvaluator, PairEvaluator, RolloutEvaluator
from altmarl.alternating.global_steps import (
    CONSERVATIVE_FRACTIONS,
    ColdStart,
    ReusedAnswer,
    Safeguarded,
)
from altmarl.alternating.history import HistoryRow
from altmarl.alternating.local_steps import NAwareLocal
from altmarl.alternating.moves import GlobalMove, LocalMove
from altmarl.alternating.rundir import RunDirectory
from altmarl.alternating.update import SequentialUpdate, ToleranceUpdate, UpdateRule
from altmarl.errors import AltmarlError
from altmarl.exact import exact_value
from altmarl.game import TabularGame
from altmarl.glearn import GLearnOracle
from altmarl.glearn.operator import glearn_bytes, operator_space
from altmarl.llearn import make_oracle
from altmarl.memory import check_memory
from altmarl.oracles import GlobalOracle, LocalOracle, PreviousAnswer
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.simulate import evaluate


@dataclass(frozen=True)
class AlternatingResult:
    """The final pair, the history of proposals and the final evaluation; ``last_answer``
    is the run's last G-LEARN ``Qhat`` with the local policy it answered (if any)."""

    global_policy: GlobalPolicy
    local_policy: LocalPolicy
    history: tuple[HistoryRow, ...]
    accepted: int
    rejected: int
    terminated_early: bool
    value: float
    value_ci: tuple[float, float]
    value_std: float
    seconds: float
    run_dir: Path | None = None
    inconclusive: int = 0
    evaluation: str = ""
    last_answer: PreviousAnswer | None = None

    def summary(self) -> dict[str, Any]:
        """The numbers ``result.json`` and ``train --json`` report."""
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "inconclusive": self.inconclusive,
            "evaluation": self.evaluation,
            "terminated_early": self.terminated_early,
            "proposals": len(self.history),
            "value": self.value,
            "value_ci": list(self.value_ci),
            "value_std": self.value_std,
            "seconds": self.seconds,
            "global_samples": int(sum(r.samples for r in self.history if r.player == "global")),
            "local_samples": int(sum(r.samples for r in self.history if r.player == "local")),
        }


def final_seed(config: AlternatingConfig) -> np.random.SeedSequence:
    """Seed of the final evaluation; baselines use it too (common random numbers)."""
    return np.random.SeedSequence([config.seed, 10**6])


def default_global_oracle(config: AlternatingConfig) -> GlobalOracle:
    """G-LEARN with the configuration's ``m``, parameterization and tolerance."""
    return GLearnOracle(
        m=config.m,
        parameterization=config.parameterization,  # type: ignore[arg-type]
        tol=config.tol,
    )


def default_evaluator(config: AlternatingConfig, game: TabularGame) -> PairEvaluator:
    """The exact count chain or common-random-numbers rollouts (:meth:`AlternatingConfig.
    resolved_evaluation`)."""
    if config.resolved_evaluation(game)[0] == "exact":
        return ExactEvaluator(config.n, config.k)
    return RolloutEvaluator(
        config.n,
        config.k,
        config.update_rollouts,
        config.resolved_update_horizon(game),
        config.simulator,
    )


def default_rule(config: AlternatingConfig, game: TabularGame, evaluator: Any) -> UpdateRule:
    """The SPEC's rule on exact values; the sequential test on rollouts (any evaluator that
    gives per-rollout returns)."""
    eps = config.resolved_eps_tol(game)
    if not hasattr(evaluator, "returns"):
        return ToleranceUpdate(eps)
    return SequentialUpdate(
        eps,
        delta=config.delta,
        first_batch=config.update_rollouts,
        max_rollouts=config.max_update_rollouts,
        selection_rollouts=config.update_rollouts,
    )


def run_bytes(game: TabularGame, config: AlternatingConfig) -> int:
    """Bytes a training run holds at once, estimated before it starts: G-LEARN's tables
    (:func:`~altmarl.glearn.operator.glearn_bytes`), the previous ``Qhat`` it keeps, and the
    global policy tables alive during a step (the pair, the proposal and UPDATE's candidates:
    the conservative versions and the ``|A_g|`` constant dispatchers)."""
    c = config
    X = operator_space(c.k, game.num_sl, c.parameterization).size
    tables = 3 + len(CONSERVATIVE_FRACTIONS) + game.num_ag
    return (
        glearn_bytes(game, c.k, c.m, c.parameterization)
        + game.num_sg * X * game.num_ag * 8
        + tables * game.num_sg * X * 8
    )


def check_run_memory(game: TabularGame, config: AlternatingConfig) -> None:
    """Refuse (before anything is allocated) a run whose tables exceed the memory budget."""
    check_memory(
        run_bytes(game, config),
        f"a training run at k={config.k} (G-LEARN's tables and the policy tables, "
        f"m={config.m}, {config.parameterization})",
        hint="lower k or m",
    )


class AlternatingMARL:
    """Algorithm 14 on a tabular game with pluggable oracles.

    Parameters
    ----------
    game : the tabular game.
    config : an :class:`AlternatingConfig`.
    global_oracle, local_oracle : best-response routines (:mod:`altmarl.oracles`); built
        from ``config`` if omitted. The configured global-step variants (reuse, safeguard)
        wrap whichever global oracle is used.
    evaluator : UPDATE's value estimator; built from ``config`` if omitted.
    """

    def __init__(
        self,
        game: TabularGame,
        config: AlternatingConfig,
        *,
        global_oracle: GlobalOracle | None = None,
        local_oracle: LocalOracle | None = None,
        evaluator: PairEvaluator | None = None,
    ) -> None:
        config.validate(game)
        check_run_memory(game, config)
        self.game = game
        self.config = config
        oracle = global_oracle or default_global_oracle(config)
        if not config.warm_start:
            oracle = ColdStart(oracle)
        if config.reuse_global_response:
            oracle = ReusedAnswer(oracle)
        if config.global_candidates == "safeguarded":
            oracle = Safeguarded(oracle)
        self.global_oracle = oracle
        local = local_oracle or make_oracle(config.local_oracle, **config.local_options)
        if config.n_aware_local:
            local = NAwareLocal(local, config.n)
        self.local_oracle = local
        self.evaluator = evaluator or default_evaluator(config, game)
        self.rule = default_rule(config, game, self.evaluator)

    def initial_pair(self) -> tuple[GlobalPolicy, LocalPolicy]:
        """A constant dispatcher (``initial_global_action``) and uniform robots."""
        g, c = self.game, self.config
        pi_g = GlobalPolicy.constant(
            c.initial_global_action,
            num_global_states=g.num_sg,
            num_actions=g.num_ag,
            k=c.k,
            num_local_states=g.num_sl,
            parameterization=c.parameterization,  # type: ignore[arg-type]
        )
        return pi_g, LocalPolicy.uniform(g.num_sl, g.num_sg, g.num_al)

    def alternation(self) -> Alternation:
        """The loop this run executes."""
        c = self.config
        return Alternation(
            game=self.game,
            k=c.k,
            moves={"global": GlobalMove(self.global_oracle), "local": LocalMove(self.local_oracle)},
            evaluator=self.evaluator,
            rule=self.rule,
            schedule=Schedule(c.order, c.alternations, c.seed),
            stop_rule=c.stop_rule,
        )

    def run(
        self,
        run_dir: str | Path | None = None,
        *,
        resume: bool = False,
        allow_other_game: bool = False,
        progress: bool | None = None,
        on_step: Callable[[int], None] | None = None,
        report: Callable[[AlternatingResult], dict[str, Any]] | None = None,
    ) -> AlternatingResult:
        """Run Algorithm 14; with ``run_dir``, checkpoint after every proposal.

        ``resume=True`` continues the run found in ``run_dir`` (its config and game must
        match; ``allow_other_game`` accepts another game). The run holds ``run_dir``'s lock
        throughout, so a second writer is refused. ``on_step(step)`` is called after each
        checkpoint (tests use it to interrupt). ``report(result)`` returns further numbers
        for ``result.json`` (e.g. baselines), which is then written once, atomically.
        """
        if run_dir is None:
            return self._run(None, resume, allow_other_game, progress, on_step, report)
        directory = RunDirectory(Path(run_dir))
        with directory.lock():
            return self._run(directory, resume, allow_other_game, progress, on_step, report)

    def _run(
        self,
        directory: RunDirectory | None,
        resume: bool,
        allow_other_game: bool,
        progress: bool | None,
        on_step: Callable[[int], None] | None,
        report: Callable[[AlternatingResult], dict[str, Any]] | None,
    ) -> AlternatingResult:
        t0 = time.perf_counter()
        c, game = self.config, self.game
        state = RunState(*self.initial_pair())
        if directory is not None:
            if not directory.exists():
                directory.start(c.to_json(), game)
            elif not resume:
                raise AltmarlError(
                    f"--out {directory.root} already holds a run; pass --resume to continue "
                    "it or choose another directory"
                )
            else:
                directory.check_config(c.to_json(), game, allow_other_game=allow_other_game)
                loaded = directory.load(game, c.to_json(), allow_other_game=allow_other_game)
                state = state if loaded is None else loaded
        elapsed0 = state.seconds

        def checkpoint(s: RunState) -> None:
            if directory is not None:
                directory.save(s, game)
            if on_step is not None:
                on_step(s.step)

        state = self.alternation().run(state, on_step=checkpoint, progress=progress)
        value, ci, std = final_evaluation(game, state.global_policy, state.local_policy, c)
        history = state.history
        result = AlternatingResult(
            global_policy=state.global_policy,
            local_policy=state.local_policy,
            history=history,
            accepted=sum(r.decision == "accept" for r in history),
            rejected=sum(r.decision == "reject" for r in history),
            inconclusive=sum(r.decision == "inconclusive" for r in history),
            evaluation=c.resolved_evaluation(game)[1],
            last_answer=state.memo if isinstance(state.memo, PreviousAnswer) else None,
            terminated_early=state.terminated and state.step < self.alternation().schedule.total,
            value=value,
            value_ci=ci,
            value_std=std,
            seconds=elapsed0 + time.perf_counter() - t0,
            run_dir=directory.root if directory else None,
        )
        if directory is not None:
            extra = report(result) if report is not None else {}
            directory.finish({**run_summary(game, c, result), **extra}, result.seconds)
        return result


def run_summary(
    game: TabularGame, config: AlternatingConfig, result: AlternatingResult
) -> dict[str, Any]:
    """``result.json``'s content: the game, ``k``, ``n``, the result's summary, the run dir."""
    return {
        "game": game.name,
        "k": config.k,
        "n": config.n,
        **result.summary(),
        "update_horizon": config.resolved_update_horizon(game),
        "run_dir": None if result.run_dir is None else str(result.run_dir),
    }


def final_evaluation(
    game: TabularGame, pi_g: GlobalPolicy, pi_l: LocalPolicy, c: AlternatingConfig
) -> tuple[float, tuple[float, float], float]:
    """``(value, 95% interval, std of returns)`` of the final pair (exact: zero width)."""
    if c.resolved_evaluation(game)[0] == "exact":
        v = exact_value(game, pi_g, pi_l, c.n, c.k)
        return v, (v, v), 0.0
    res = evaluate(
        game,
        pi_g,
        pi_l,
        n=c.n,
        k=c.k,
        rollouts=c.final_rollouts,
        horizon=c.final_horizon,
        seed=final_seed(c),
        simulator=c.simulator,  # type: ignore[arg-type]
    )
    return res.mean, res.ci(), res.std
