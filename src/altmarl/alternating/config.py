"""The configuration of a tabular ALTERNATING-MARL run (written to ``config.json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from altmarl.alternating.evaluators import horizon_for_bias
from altmarl.errors import AltmarlError
from altmarl.exact import MAX_CHAIN_STATES, chain_size
from altmarl.game import TabularGame
from altmarl.memory import default_memory_budget

PLAYERS: tuple[str, ...] = ("local", "global")
#: When a run stops early (see :func:`altmarl.alternating.driver.should_stop`).
STOP_RULES: tuple[str, ...] = ("all-players", "first-overlap", "never")
#: The global proposal: G-LEARN's policy (paper) or the safeguarded set of candidates.
GLOBAL_CANDIDATES: tuple[str, ...] = ("g-learn", "safeguarded")
#: How UPDATE estimates values (``auto``: exact where the count chain fits, else rollouts).
EVALUATIONS: tuple[str, ...] = ("auto", "rollouts", "exact")
#: ``evaluation="auto"`` takes the exact chain up to this many states ``|S_g| |C_n|``: beyond,
#: building its transition matrices costs more than the rollouts UPDATE needs.
AUTO_EXACT_STATES = 2000
#: UPDATE's default horizon keeps the truncation bias of a difference below this fraction
#: of ``eps_tol`` (:func:`~altmarl.alternating.evaluators.horizon_for_bias`).
BIAS_FRACTION = 0.25


@dataclass(frozen=True)
class AlternatingConfig:
    """Everything that determines a training run (written to ``config.json``).

    eps_tol : UPDATE's tolerance radius; ``None`` means ``0.005 * r_max / (1 - gamma)``.
    evaluation : ``rollouts`` (online execution, common random numbers, the sequential
        test of :class:`~altmarl.alternating.update.SequentialUpdate`), ``exact`` (the count
        chain, tiny ``n``) or ``auto`` (exact where the chain fits the memory budget,
        :meth:`resolved_evaluation`).
    delta : UPDATE's error probability per decision (rollout evaluation).
    update_rollouts : rollouts per pair of the sequential test's first batch (it doubles
        up to ``max_update_rollouts``), and per candidate when choosing among candidates.
    update_horizon : UPDATE's rollout horizon; ``None``: the least horizon whose truncation
        bias of a difference is at most ``BIAS_FRACTION * eps_tol``.
    order : which player moves first in each alternation.
    global_candidates : ``g-learn`` (the paper: the global proposal is G-LEARN's policy) or
        ``safeguarded`` (:class:`~altmarl.alternating.global_steps.Safeguarded`): G-LEARN's
        greedy policy, its conservative versions and the ``|A_g|`` constant dispatchers are
        estimated together with the current pair under common random numbers; the best is
        the proposal UPDATE judges.
    reuse_global_response : when the local policy has not changed since the last G-LEARN
        call, take that call's ``Qhat`` again
        (:class:`~altmarl.alternating.global_steps.ReusedAnswer`).
    n_aware_local : wrap the local oracle in
        :class:`~altmarl.alternating.local_steps.NAwareLocal`: its answer, further candidates
        and (tiny ``n``) an exact ``n``-agent search, judged by UPDATE on the ``n``-agent system.
    warm_start : G-LEARN starts value iteration from the run's previous ``Qhat``
        (``False``: :class:`~altmarl.alternating.global_steps.ColdStart`).
    """

    k: int
    n: int = 1000
    alternations: int = 10
    order: tuple[str, ...] = ("local", "global")
    eps_tol: float | None = None
    evaluation: str = "auto"
    update_rollouts: int = 32
    update_horizon: int | None = None
    final_rollouts: int = 50
    final_horizon: int = 100
    simulator: str = "counts"
    seed: int = 0
    initial_global_action: int = 0
    m: int | None = 30
    tol: float = 1e-6
    parameterization: str = "mean-field"
    local_oracle: str = "mean-field"
    local_options: dict[str, Any] = field(default_factory=dict)
    stop_rule: str = "all-players"
    warm_start: bool = True
    global_candidates: str = "g-learn"
    reuse_global_response: bool = False
    delta: float = 0.05
    max_update_rollouts: int = 1024
    n_aware_local: bool = False

    def validate(self, game: TabularGame) -> None:
        """Refuse a configuration that breaks a rule (the message names the field)."""
        if self.k < 1:
            raise AltmarlError(f"k = {self.k} must be >= 1")
        if self.k > self.n:
            raise AltmarlError(f"k = {self.k} must be <= n = {self.n}")
        if self.alternations < 1:
            raise AltmarlError(f"alternations = {self.alternations} must be >= 1")
        if not self.order or any(p not in PLAYERS for p in self.order):
            raise AltmarlError(f"order {self.order} must list players from {PLAYERS}")
        if self.eps_tol is not None and not self.eps_tol > 0:
            raise AltmarlError(f"eps_tol = {self.eps_tol} must be > 0")
        if self.evaluation not in EVALUATIONS:
            raise AltmarlError(f"evaluation {self.evaluation!r} must be one of {EVALUATIONS}")
        if not 0 < self.delta < 1:
            raise AltmarlError(f"delta = {self.delta} must lie in (0, 1)")
        if self.update_rollouts < 2:
            raise AltmarlError(f"update_rollouts = {self.update_rollouts} must be >= 2")
        if self.max_update_rollouts < self.update_rollouts:
            raise AltmarlError(
                f"max_update_rollouts = {self.max_update_rollouts} must be >= update_rollouts "
                f"= {self.update_rollouts}"
            )
        if self.update_horizon is not None and self.update_horizon < 1:
            raise AltmarlError(f"update_horizon = {self.update_horizon} must be >= 1")
        if not 0 <= self.initial_global_action < game.num_ag:
            raise AltmarlError(
                f"initial_global_action = {self.initial_global_action} must lie in "
                f"[0, {game.num_ag})"
            )
        if self.stop_rule not in STOP_RULES:
            raise AltmarlError(f"stop_rule {self.stop_rule!r} must be one of {STOP_RULES}")
        if self.m is not None and self.m < 1:
            raise AltmarlError(f"m = {self.m} must be >= 1 (or None for the exact operator)")
        if self.global_candidates not in GLOBAL_CANDIDATES:
            raise AltmarlError(
                f"global_candidates {self.global_candidates!r} must be one of {GLOBAL_CANDIDATES}"
            )

    def resolved_eps_tol(self, game: TabularGame) -> float:
        """``eps_tol``, or its default ``0.005 r_max / (1 - gamma)``."""
        return self.eps_tol if self.eps_tol is not None else 0.005 * game.value_bound

    def resolved_evaluation(self, game: TabularGame) -> tuple[str, str]:
        """``("exact" | "rollouts", why)``: ``auto`` is exact when the count chain of ``n``
        agents has at most ``AUTO_EXACT_STATES`` states (``MAX_CHAIN_STATES`` is the hard
        limit) and its transition matrices (at most ``|C_n|^2`` entries per global state)
        fit the memory budget."""
        if self.evaluation != "auto":
            return self.evaluation, f"{self.evaluation} (chosen)"
        states = chain_size(game, self.n)
        nbytes = states**2 // game.num_sg * 12
        if states <= min(AUTO_EXACT_STATES, MAX_CHAIN_STATES) and nbytes <= default_memory_budget():
            return "exact", f"exact (auto: the count chain has {states} states)"
        return "rollouts", (
            f"rollouts (auto: the count chain would have {states:.3g} states, too many "
            "for the exact evaluation)"
        )

    def resolved_update_horizon(self, game: TabularGame) -> int:
        """``update_horizon``, or the least horizon with truncation bias of a difference
        at most ``BIAS_FRACTION * eps_tol``."""
        if self.update_horizon is not None:
            return self.update_horizon
        return horizon_for_bias(game, BIAS_FRACTION * self.resolved_eps_tol(game))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["order"] = list(self.order)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AlternatingConfig:
        known = {f.name for f in fields(cls)}
        kw = {key: val for key, val in d.items() if key in known}
        kw["order"] = tuple(kw.get("order", ("local", "global")))
        return cls(**kw)
