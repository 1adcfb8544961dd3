"""ALTERNATING-MARL (Algorithm 14) with function approximation on the continuous warehouse.

The loop is the library's one driver (:class:`~altmarl.alternating.driver.Alternation`)
with the continuous players (:mod:`~altmarl.continuous.players`). Each of the ``T``
alternations (default 30) asks the players in ``order`` (default local, then global) for a
proposal:

* L step (``local_learn``): TRPO (or PPO/A2C) updates of the shared robot policy against the
  fixed dispatcher, on one batched simulation of ``episodes x n`` robots;
* G step (``global_learn``): the dispatcher classifier re-fitted on 3000 subsampled
  histograms of population snapshots visited in the latest L-step batch.

UPDATE-style acceptance (a documented simplification of SPEC §5). Every pair is valued by
online execution of ``eval_episodes`` episodes from ONE evaluation seed fixed for the run,
so all comparisons use common random numbers (``rollout``: the random draws do not depend
on the policies), and the incumbent's value is cached rather than re-simulated. A proposal
is accepted iff its value is strictly larger than the incumbent's (UPDATE with
``eps_tol = 0``: keep the better pair); otherwise the old pair is kept. There is no early
termination: the run always makes ``T`` alternations (overlap-based stopping is unreliable
with the small, noisy improvements of one trust-region step).

Reproducibility: the networks are initialised from ``seed``; proposal ``s`` draws all its
randomness from the first child of ``SeedSequence([seed, s])``, the UPDATE evaluation from
``SeedSequence([seed, 999_999])`` and the final evaluation (shared with the uniform-random
baseline) from ``SeedSequence([seed, 10**6])``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from altmarl.alternating.driver import Alternation, RunState, Schedule
from altmarl.alternating.history import HistoryRow, write_history
from altmarl.alternating.update import KeepBetter
from altmarl.continuous.env import ContinuousWarehouse
from altmarl.continuous.global_learn import GlobalLearnConfig
from altmarl.continuous.local_learn import LocalLearnConfig
from altmarl.continuous.networks import CriticNet, DispatcherNet, LocalPolicyNet
from altmarl.continuous.players import (
    CachedRolloutEvaluator,
    GlobalStep,
    LearnerState,
    LocalStep,
    torch_generator,
)
from altmarl.continuous.rollout import (
    GreedyDispatcher,
    SampledLocal,
    UniformDispatcher,
    UniformLocal,
    simulate,
)
from altmarl.continuous.trpo import TRPOConfig
from altmarl.errors import AltmarlError

EVAL_STREAM = 999_999
FINAL_STREAM = 10**6


@dataclass(frozen=True)
class ContinuousConfig:
    """One training run: scenario, ``k``, seed, alternations and the two oracles' settings."""

    k: int = 10
    seed: int = 0
    alternations: int = 30
    n: int = 500
    gamma: float = 0.95
    horizon: int = 100
    eval_episodes: int = 8
    final_rollouts: int = 50
    order: tuple[str, ...] = ("local", "global")
    local: LocalLearnConfig = field(default_factory=LocalLearnConfig)
    global_: GlobalLearnConfig = field(default_factory=GlobalLearnConfig)

    def __post_init__(self) -> None:
        self.warehouse().check_k(self.k)
        if self.alternations < 0:
            raise AltmarlError(f"alternations = {self.alternations} must be >= 0")
        if self.eval_episodes < 1 or self.final_rollouts < 1:
            raise AltmarlError("eval_episodes and final_rollouts must be >= 1")
        if not self.order or any(p not in ("local", "global") for p in self.order):
            raise AltmarlError(f"order = {self.order!r} must list 'local' and/or 'global'")

    def warehouse(self) -> ContinuousWarehouse:
        return ContinuousWarehouse(n=self.n, gamma=self.gamma, horizon=self.horizon)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["order"] = list(self.order)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ContinuousConfig:
        d = dict(d)
        local = dict(d.pop("local", {}))
        trpo = TRPOConfig(**local.pop("trpo", {}))
        glob = GlobalLearnConfig(**d.pop("global_", {}))
        d["order"] = tuple(d.get("order", ("local", "global")))
        return cls(**d, local=LocalLearnConfig(**local, trpo=trpo), global_=glob)


@dataclass(frozen=True)
class ContinuousResult:
    """A trained pair with its final evaluation and the per-proposal history."""

    config: ContinuousConfig
    dispatcher: DispatcherNet
    local_policy: LocalPolicyNet
    value: float
    value_std: float
    mode_accuracy: float
    baseline_value: float
    baseline_mode_accuracy: float
    seconds: float
    history: tuple[HistoryRow, ...]

    def summary(self) -> dict[str, Any]:
        return {
            "k": self.config.k,
            "seed": self.config.seed,
            "value": self.value,
            "value_std": self.value_std,
            "mode_accuracy": self.mode_accuracy,
            "baseline_value": self.baseline_value,
            "baseline_mode_accuracy": self.baseline_mode_accuracy,
            "seconds": self.seconds,
            "accepted_local": sum(
                1 for h in self.history if h.player == "local" and h.decision == "accept"
            ),
            "accepted_global": sum(
                1 for h in self.history if h.player == "global" and h.decision == "accept"
            ),
        }


def stream(seed: int, index: int) -> torch.Generator:
    """A torch generator seeded from ``SeedSequence([seed, index])``."""
    return torch_generator(seed, index)


def initial_networks(seed: int) -> tuple[DispatcherNet, LocalPolicyNet, CriticNet]:
    """Fresh networks from ``seed`` without touching torch's global generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DispatcherNet(), LocalPolicyNet(), CriticNet()


def alternation(config: ContinuousConfig) -> Alternation:
    """Algorithm 14's loop with the continuous players, evaluator and rule."""
    return Alternation(
        game=config.warehouse(),
        k=config.k,
        moves={
            "local": LocalStep(config.local),
            "global": GlobalStep(config.global_, snapshot_episodes=config.local.episodes),
        },
        evaluator=CachedRolloutEvaluator(config.k, config.eval_episodes, config.seed, EVAL_STREAM),
        rule=KeepBetter(),
        schedule=Schedule(config.order, config.alternations, config.seed),
        stop_rule="never",
    )


def train_continuous(
    config: ContinuousConfig,
    out_dir: str | Path | None = None,
    progress: Callable[[HistoryRow], None] | None = None,
) -> ContinuousResult:
    """Run ALTERNATING-MARL on the continuous warehouse; save the run to ``out_dir``.

    ``progress(row)`` is called after every proposal.
    """
    w = config.warehouse()
    t0 = time.perf_counter()
    dispatcher, policy, critic = initial_networks(config.seed)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=config.local.critic_lr)
    start = RunState(dispatcher, policy, memo=LearnerState(critic, critic_opt))

    def report(state: RunState) -> None:
        if progress is not None:
            progress(state.history[-1])

    state = alternation(config).run(start, on_step=report, progress=False)
    dispatcher, policy = state.pair
    seconds = time.perf_counter() - t0
    final = evaluate_pair(w, dispatcher, policy, config.k, config.final_rollouts, config.seed)
    base = evaluate_pair(w, None, None, config.k, config.final_rollouts, config.seed)
    result = ContinuousResult(
        config=config,
        dispatcher=dispatcher,
        local_policy=policy,
        value=final["value"],
        value_std=final["value_std"],
        mode_accuracy=final["mode_accuracy"],
        baseline_value=base["value"],
        baseline_mode_accuracy=base["mode_accuracy"],
        seconds=seconds,
        history=state.history,
    )
    if out_dir is not None:
        save_run(result, out_dir)
    return result


def evaluate_pair(
    w: ContinuousWarehouse,
    dispatcher: DispatcherNet | None,
    policy: LocalPolicyNet | None,
    k: int,
    rollouts: int,
    seed: int,
    *,
    record: bool = False,
) -> dict[str, Any]:
    """Online execution of a pair (``None`` = uniform random) on ``rollouts`` episodes drawn
    from ``SeedSequence([seed, 10**6])`` (the same episodes for every pair)."""
    roll = simulate(
        w,
        UniformDispatcher() if dispatcher is None else GreedyDispatcher(dispatcher),
        UniformLocal() if policy is None else SampledLocal(policy),
        k,
        rollouts,
        stream(seed, FINAL_STREAM),
        record=record,
    )
    out: dict[str, Any] = {
        "value": float(roll.returns.mean()),
        "value_std": float(roll.returns.std()) if rollouts > 1 else 0.0,
        "mode_accuracy": roll.mode_accuracy,
    }
    if record:
        out["rollout"] = roll
    return out


def save_run(result: ContinuousResult, out_dir: str | Path) -> Path:
    """Write ``config.json``, ``dispatcher.pt``, ``local_policy.pt`` (state dicts),
    ``history.csv`` and ``result.json`` into ``out_dir``."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(result.config.to_json(), indent=2))
    torch.save(result.dispatcher.state_dict(), root / "dispatcher.pt")
    torch.save(result.local_policy.state_dict(), root / "local_policy.pt")
    if result.history:
        details = tuple(dict.fromkeys(key for row in result.history for key in row.details))
        write_history(root / "history.csv", result.history, extra_fields=details)
    (root / "result.json").write_text(json.dumps(result.summary(), indent=2))
    return root


def load_run(run_dir: str | Path) -> tuple[ContinuousConfig, DispatcherNet, LocalPolicyNet]:
    """Load a run directory written by :func:`save_run`."""
    root = Path(run_dir)
    for name in ("config.json", "dispatcher.pt", "local_policy.pt"):
        if not (root / name).is_file():
            raise AltmarlError(f"run dir {str(root)!r} has no {name} (not a continuous run)")
    config = ContinuousConfig.from_json(json.loads((root / "config.json").read_text()))
    dispatcher, policy = DispatcherNet(), LocalPolicyNet()
    dispatcher.load_state_dict(torch.load(root / "dispatcher.pt", weights_only=True))
    policy.load_state_dict(torch.load(root / "local_policy.pt", weights_only=True))
    return config, dispatcher, policy


def evaluate_continuous_run(
    run_dir: str | Path,
    k: int | None = None,
    n: int | None = None,
    rollouts: int = 50,
    horizon: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Re-run a saved pair by online execution (defaults: the run's own ``k``, ``n``,
    horizon) alongside the uniform-random baseline on the same episodes."""
    config, dispatcher, policy = load_run(run_dir)
    if rollouts < 1:
        raise AltmarlError(f"rollouts = {rollouts} must be >= 1")
    w = replace(
        config.warehouse(),
        n=config.n if n is None else n,
        horizon=config.horizon if horizon is None else horizon,
    )
    k = config.k if k is None else k
    w.check_k(k)
    t0 = time.perf_counter()
    trained = evaluate_pair(w, dispatcher, policy, k, rollouts, seed)
    base = evaluate_pair(w, None, None, k, rollouts, seed)
    half = 1.96 * trained["value_std"] / rollouts**0.5
    return {
        "run_dir": str(run_dir),
        "value": trained["value"],
        "value_std": trained["value_std"],
        "value_ci": [trained["value"] - half, trained["value"] + half],
        "mode_accuracy": trained["mode_accuracy"],
        "baseline_value": base["value"],
        "baseline_mode_accuracy": base["mode_accuracy"],
        "k": k,
        "n": w.n,
        "rollouts": rollouts,
        "horizon": w.horizon,
        "seed": seed,
        "seconds": time.perf_counter() - t0,
    }
