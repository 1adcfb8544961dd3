"""Train a pair by ALTERNATING-MARL and compare it with the reference dispatchers.

What ``altmarl train`` and every job of the warehouse study do: run
:class:`~altmarl.alternating.AlternatingMARL`, then evaluate the uniform-random and the best
constant dispatcher against the trained local policy on the final evaluation's random
numbers (:func:`~altmarl.baselines.dispatcher_baselines`). With a run directory, the
baselines land in its ``result.json``, written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from altmarl.alternating import AlternatingConfig, AlternatingMARL, AlternatingResult, final_seed
from altmarl.alternating.marl import run_summary
from altmarl.baselines import Baselines, dispatcher_baselines
from altmarl.game import TabularGame
from altmarl.simulate import Rollouts, evaluate


@dataclass(frozen=True)
class TrainingReport:
    """A trained pair's result, its reference dispatchers (``None`` when skipped or with
    exact evaluation) and, with ``record``, the final evaluation's trajectories."""

    result: AlternatingResult
    baselines: Baselines | None = None
    rollouts: Rollouts | None = None

    def summary(self, game: TabularGame, config: AlternatingConfig) -> dict[str, Any]:
        """``result.json``'s content (also what ``train --json`` prints)."""
        return {**run_summary(game, config, self.result), **baseline_fields(self.baselines)}


def baseline_fields(base: Baselines | None) -> dict[str, Any]:
    if base is None:
        return {}
    return {
        "uniform_dispatcher_value": base.uniform,
        "best_constant_dispatcher_value": base.best_constant,
        "best_constant_action": base.best_constant_action,
    }


def compare_with_baselines(
    game: TabularGame, config: AlternatingConfig, result: AlternatingResult
) -> Baselines:
    """The reference dispatchers against ``result``'s local policy, on the final
    evaluation's rollouts (common random numbers)."""
    return dispatcher_baselines(
        game,
        result.local_policy,
        n=config.n,
        k=config.k,
        rollouts=config.final_rollouts,
        horizon=config.final_horizon,
        seed=final_seed(config),
    )


def train_and_compare(
    game: TabularGame,
    config: AlternatingConfig,
    run_dir: str | Path | None = None,
    *,
    resume: bool = False,
    allow_other_game: bool = False,
    baselines: bool = True,
    record: bool = False,
    progress: bool | None = None,
) -> TrainingReport:
    """Train (checkpointing into ``run_dir`` if given), then evaluate the baselines (rollout
    evaluation only) and, with ``record``, the final pair's trajectories (same seed as the
    final evaluation, so the same returns)."""
    found: dict[str, Baselines] = {}

    def report(result: AlternatingResult) -> dict[str, Any]:
        found["base"] = compare_with_baselines(game, config, result)
        return baseline_fields(found["base"])

    wanted = baselines and config.resolved_evaluation(game)[0] == "rollouts"
    result = AlternatingMARL(game, config).run(
        run_dir,
        resume=resume,
        allow_other_game=allow_other_game,
        progress=progress,
        report=report if wanted else None,
    )
    if wanted and "base" not in found:
        found["base"] = compare_with_baselines(game, config, result)
    rollouts = None
    if record:
        rollouts = evaluate(
            game,
            result.global_policy,
            result.local_policy,
            n=config.n,
            k=config.k,
            rollouts=config.final_rollouts,
            horizon=config.final_horizon,
            seed=final_seed(config),
            simulator=config.simulator,  # type: ignore[arg-type]
            record=True,
        )
    return TrainingReport(result, found.get("base"), rollouts)
