"""ALTERNATING-MARL (Algorithm 14) with function approximation on the continuous warehouse.

The loop is the library's one driver (:class:`~altmarl.alternating.driver.Alternation`)
with the continuous players (:mod:`~altmarl.continuous.players`). Each of the ``T``
alternations (default 30) asks the players in ``order`` (default local, then global) for a
proposal:

* L step (``local_learn``): TRPO (or PPO/A2C) updates of the shared robot policy against the
  fixed dispatcher, on one batched simulation of ``episodes x n`` robots;
* G step (``global_response``): the dispatcher's best response in return against the fixed
  robots (commitment rollouts, advantage regression).

UPDATE-style acceptance (a documented simplification of SPEC §5). Every pair is valued by
online execution of ``eval_episodes`` episodes from ONE evaluation seed fixed for the run,
so all comparisons use common random numbers (``rollout``: the random draws do not depend
on the policies), and a pair already valued is not simulated again. A proposal is accepted
iff its value is strictly larger than the incumbent's (UPDATE with ``eps_tol = 0``: keep the
better pair); otherwise the old pair is kept. There is no early termination: the run always
makes ``T`` alternations (overlap-based stopping is unreliable with the small, noisy
improvements of one trust-region step).

The dispatcher starts fresh (a near-constant network) or, with ``dispatcher_init =
"mode-classifier"``, as the paper's mode classifier (:mod:`~altmarl.continuous.mode_classifier`).

Threads. A run pins torch to ``threads`` intra-op threads (default 1) for the steps whose
float sums depend on the thread count -- the networks' initialisation and the G step's
regression (1 and 2 threads differ in the last digits of its weights) -- and restores the
caller's setting afterwards, so a run's numbers depend on ``threads`` (recorded in
``config.json``) and not on whatever the calling process had set. Rollouts (online
execution, the G step's commitment rollouts) are row-wise and give the same bits on any
number of threads; so do the L step's TRPO and critic steps with this torch and MKL
(measured; :mod:`~altmarl.continuous.local_learn`). These run on the caller's torch threads
(one per core by default; a study's worker gets its share of the cores), which only
changes the speed.

Reproducibility: the networks are initialised from ``seed``; proposal ``s`` draws all its
randomness from ``SeedSequence([seed, s])``, the UPDATE evaluation from
``SeedSequence([seed, 999_999])``, the mode-classifier initialisation from
``SeedSequence([seed, 999_998])`` and the final evaluation from the streams of
:mod:`~altmarl.continuous.evaluation`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from altmarl.alternating.driver import Alternation, RunState, Schedule
from altmarl.alternating.history import HistoryRow, write_history
from altmarl.continuous.env import ContinuousWarehouse
from altmarl.continuous.evaluation import (
    FinalEvaluation,
    final_evaluation,
    get_protocol,
    robots,
)
from altmarl.continuous.global_response import ReturnResponseConfig
from altmarl.continuous.local_learn import LocalLearnConfig
from altmarl.continuous.mode_classifier import fit_mode_classifier
from altmarl.continuous.networks import CriticNet, DispatcherNet, LocalPolicyNet
from altmarl.continuous.players import (
    CachedRolloutEvaluator,
    GlobalStep,
    LearnerState,
    LocalStep,
    PairedKeepBetter,
)
from altmarl.continuous.rollout import (
    GreedyDispatcher,
    UniformDispatcher,
    UniformLocal,
    rollout_threads,
    simulate,
    torch_generator,
    torch_threads,
)
from altmarl.continuous.trpo import TRPOConfig
from altmarl.errors import AltmarlError

EVAL_STREAM = 999_999
INIT_STREAM = 999_998
FINAL_STREAM = 10**6
DISPATCHER_INITS = ("fresh", "mode-classifier")


@dataclass(frozen=True)
class ContinuousConfig:
    """One training run: scenario, ``k``, seed, alternations, the two oracles' settings, the
    evaluation protocol (``ours`` or ``paper``) and the dispatcher's initialisation."""

    k: int = 10
    seed: int = 0
    alternations: int = 30
    n: int = 500
    gamma: float = 0.95
    horizon: int = 100
    eval_episodes: int = 4
    final_rollouts: int = 50
    order: tuple[str, ...] = ("global", "local")
    local: LocalLearnConfig = field(default_factory=LocalLearnConfig)
    global_: ReturnResponseConfig = field(default_factory=ReturnResponseConfig)
    protocol: str = "ours"
    dispatcher_init: str = "fresh"
    select_episodes: int = 16
    dispatcher_z: float = 2.0
    threads: int = 1
    dispatcher_max_episodes: int = 0

    def __post_init__(self) -> None:
        self.warehouse().check_k(self.k)
        if self.alternations < 0:
            raise AltmarlError(f"alternations = {self.alternations} must be >= 0")
        if self.eval_episodes < 1 or self.final_rollouts < 1 or self.select_episodes < 1:
            raise AltmarlError("eval_episodes, final_rollouts and select_episodes must be >= 1")
        if not self.order or any(p not in ("local", "global") for p in self.order):
            raise AltmarlError(f"order = {self.order!r} must list 'local' and/or 'global'")
        get_protocol(self.protocol)
        if self.dispatcher_init not in DISPATCHER_INITS:
            raise AltmarlError(
                f"dispatcher_init {self.dispatcher_init!r} must be one of {DISPATCHER_INITS}"
            )
        if self.threads < 1:
            raise AltmarlError(f"threads = {self.threads} must be >= 1")
        if self.dispatcher_z < 0:
            raise AltmarlError(f"dispatcher_z = {self.dispatcher_z} must be >= 0")
        if self.dispatcher_max_episodes < 0:
            raise AltmarlError(
                f"dispatcher_max_episodes = {self.dispatcher_max_episodes} must be >= 0 "
                "(0: no extra episodes)"
            )

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
        glob = d.pop("global_", {})
        # runs saved before the return step (0.1) held the mode classifier's settings here
        known = {f.name for f in fields(ReturnResponseConfig)}
        glob = ReturnResponseConfig(**glob) if set(glob) <= known else ReturnResponseConfig()
        d["order"] = tuple(d.get("order", ("local", "global")))
        return cls(**d, local=LocalLearnConfig(**local, trpo=trpo), global_=glob)


@dataclass(frozen=True)
class ContinuousResult:
    """A trained pair with its final evaluation and the per-proposal history; ``seconds``
    and ``cpu_seconds`` are the training's wall and processor time (the final evaluation
    excluded)."""

    config: ContinuousConfig
    dispatcher: DispatcherNet
    local_policy: LocalPolicyNet
    evaluation: FinalEvaluation
    seconds: float
    cpu_seconds: float
    history: tuple[HistoryRow, ...]

    @property
    def value(self) -> float:
        return self.evaluation.value

    @property
    def mode_accuracy(self) -> float:
        return self.evaluation.mode_accuracy

    @property
    def baseline_value(self) -> float:
        return self.evaluation.baseline_value

    @property
    def baseline_mode_accuracy(self) -> float:
        return self.evaluation.baseline_mode_accuracy

    def summary(self) -> dict[str, Any]:
        accepted = {
            player: sum(1 for h in self.history if h.player == player and h.decision == "accept")
            for player in ("local", "global")
        }
        gain, gain_se = best_global_gain(self.history)
        return {
            "k": self.config.k,
            "seed": self.config.seed,
            **self.evaluation.as_dict(),
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "accepted_local": accepted["local"],
            "accepted_global": accepted["global"],
            "global_best_gain": gain,
            "global_best_gain_stderr": gain_se,
        }


def best_global_gain(history: tuple[HistoryRow, ...]) -> tuple[float, float]:
    """The largest paired gain of a G-step proposal over its incumbent on UPDATE's episodes,
    with its standard error (``nan`` without a global proposal)."""
    rows = [h for h in history if h.player == "global" and "gain" in h.details]
    if not rows:
        return float("nan"), float("nan")
    best = max(rows, key=lambda h: h.details["gain"])
    return best.details["gain"], best.details["gain_stderr"]


def stream(seed: int, index: int) -> torch.Generator:
    """A torch generator seeded from ``SeedSequence([seed, index])``."""
    return torch_generator(seed, index)


def initial_networks(
    seed: int, *, sees_global_state: bool = True
) -> tuple[DispatcherNet, LocalPolicyNet, CriticNet]:
    """Fresh networks from ``seed`` without touching torch's global generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return (
            DispatcherNet(sees_global_state=sees_global_state),
            LocalPolicyNet(),
            CriticNet(),
        )


def _evaluator(config: ContinuousConfig) -> CachedRolloutEvaluator:
    return CachedRolloutEvaluator(
        config.k,
        config.eval_episodes,
        config.seed,
        EVAL_STREAM,
        max_fresh_episodes=config.dispatcher_max_episodes,
        z=config.dispatcher_z,
    )


def alternation(
    config: ContinuousConfig, evaluator: CachedRolloutEvaluator | None = None
) -> Alternation:
    """Algorithm 14's loop with the continuous players, evaluator and rule."""
    if evaluator is None:
        evaluator = _evaluator(config)
    return Alternation(
        game=config.warehouse(),
        k=config.k,
        moves={"local": LocalStep(config.local), "global": GlobalStep(config.global_)},
        evaluator=evaluator,
        rule=PairedKeepBetter(evaluator, config.dispatcher_z),
        schedule=Schedule(config.order, config.alternations, config.seed),
        stop_rule="never",
    )


def train_continuous(
    config: ContinuousConfig,
    out_dir: str | Path | None = None,
    progress: Callable[[HistoryRow], None] | None = None,
    *,
    threads_for_rollouts: int | None = None,
) -> ContinuousResult:
    """Run ALTERNATING-MARL on the continuous warehouse; save the run to ``out_dir``.

    ``progress(row)`` is called after every proposal. The gradient steps run on
    ``config.threads`` torch threads (the results depend on it); the rollouts on
    ``threads_for_rollouts`` (default: the caller's torch threads, normally one per core),
    which changes their speed only (:func:`~altmarl.continuous.rollout.rollout_threads`).
    """
    spare = torch.get_num_threads() if threads_for_rollouts is None else threads_for_rollouts
    with torch_threads(config.threads), rollout_threads(spare):
        t0, c0 = time.perf_counter(), time.process_time()
        state, classifier = _train(config, progress)
        dispatcher, policy = state.pair
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        evaluation = final_evaluation(
            config.warehouse(),
            dispatcher,
            policy,
            config.k,
            rollouts=config.final_rollouts,
            seed=config.seed,
            protocol=get_protocol(config.protocol),
            select_episodes=config.select_episodes,
            classifier=classifier,
        )
    result = ContinuousResult(
        config=config,
        dispatcher=dispatcher,
        local_policy=policy,
        evaluation=evaluation,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        history=state.history,
    )
    if out_dir is not None:
        save_run(result, out_dir)
    return result


def _train(
    config: ContinuousConfig, progress: Callable[[HistoryRow], None] | None
) -> tuple[RunState, DispatcherNet | None]:
    """The alternation from the initial pair; history rows carry UPDATE's paired gain.
    Also returns the mode classifier the run started from (``None`` for a fresh start)."""
    sees = get_protocol(config.protocol).dispatcher_sees_global_state
    dispatcher, policy, critic = initial_networks(config.seed, sees_global_state=sees)
    classifier = None
    if config.dispatcher_init == "mode-classifier":
        gen = stream(config.seed, INIT_STREAM)
        dispatcher, _ = fit_mode_classifier(dispatcher, config.warehouse(), config.k, gen)
        classifier = dispatcher
    critic_opt = torch.optim.Adam(critic.parameters(), lr=config.local.critic_lr)
    start = RunState(dispatcher, policy, memo=LearnerState(critic, critic_opt))
    evaluator = _evaluator(config)

    def report(state: RunState) -> None:
        if progress is not None:
            progress(state.history[-1])

    state = alternation(config, evaluator).run(start, on_step=report, progress=False)
    rows = tuple(
        replace(row, details={**row.details, "gain": gain, "gain_stderr": se})
        for row, (gain, se) in zip(state.history, evaluator.gains, strict=True)
    )
    return replace(state, history=rows), classifier


def evaluate_pair(
    w: ContinuousWarehouse,
    dispatcher: DispatcherNet | None,
    policy: LocalPolicyNet | None,
    k: int,
    rollouts: int,
    seed: int,
    *,
    record: bool = False,
    greedy_robots: bool = False,
) -> dict[str, Any]:
    """Online execution of a pair (``None`` = uniform random) on ``rollouts`` episodes drawn
    from ``SeedSequence([seed, 10**6])`` (the same episodes for every pair)."""
    roll = simulate(
        w,
        UniformDispatcher() if dispatcher is None else GreedyDispatcher(dispatcher),
        UniformLocal() if policy is None else robots(policy, greedy_robots),
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
    sees = get_protocol(config.protocol).dispatcher_sees_global_state
    dispatcher, policy = DispatcherNet(sees_global_state=sees), LocalPolicyNet()
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
    """Re-run a saved pair by online execution under the run's protocol (defaults: the
    run's own ``k``, ``n`` and evaluation horizon) beside its reference dispatchers on the
    same episodes (:func:`~altmarl.continuous.evaluation.final_evaluation`)."""
    config, dispatcher, policy = load_run(run_dir)
    if rollouts < 1:
        raise AltmarlError(f"rollouts = {rollouts} must be >= 1")
    protocol = get_protocol(config.protocol)
    if horizon is not None:
        protocol = replace(protocol, horizon=horizon)
    w = replace(config.warehouse(), n=config.n if n is None else n)
    k = config.k if k is None else k
    w.check_k(k)
    t0 = time.perf_counter()
    # rollouts only: the same bits on any number of threads, so all of the caller's
    with rollout_threads(torch.get_num_threads()):
        ev = final_evaluation(
            w,
            dispatcher,
            policy,
            k,
            rollouts=rollouts,
            seed=seed,
            protocol=protocol,
            select_episodes=config.select_episodes,
        )
    half = 1.96 * ev.value_std / rollouts**0.5
    return {
        "run_dir": str(run_dir),
        **ev.as_dict(),
        "value_ci": [ev.value - half, ev.value + half],
        "k": k,
        "n": w.n,
        "seed": seed,
        "seconds": time.perf_counter() - t0,
    }
