"""ALTERNATING-MARL (Algorithm 14) with the UPDATE rule (SPEC §5).

Starting from an initial pair (uniform ``pi_l``, a constant ``pi_g``), each alternation
asks the players in turn (default: local, then global) for a best response to the other's
current policy; every proposal goes through UPDATE. The pieces, one per module:

* :mod:`~altmarl.alternating.config` -- :class:`AlternatingConfig`;
* :mod:`~altmarl.alternating.moves` -- a player's move around its oracle;
* :mod:`~altmarl.alternating.global_steps` -- the safeguarded and reused global steps;
* :mod:`~altmarl.alternating.local_steps` -- the n-aware local step;
* :mod:`~altmarl.alternating.evaluators` -- value estimates (rollouts with common random
  numbers, or exact);
* :mod:`~altmarl.alternating.update` -- UPDATE's decision;
* :mod:`~altmarl.alternating.driver` -- the loop, its state and its stop rules;
* :mod:`~altmarl.alternating.history` -- one typed row per proposal and ``history.csv``;
* :mod:`~altmarl.alternating.rundir` -- checkpoints and resume;
* :mod:`~altmarl.alternating.marl` -- :class:`AlternatingMARL`, all of it for a tabular game.
"""

from altmarl.alternating.config import (
    EVALUATIONS,
    GLOBAL_CANDIDATES,
    PLAYERS,
    STOP_RULES,
    AlternatingConfig,
)
from altmarl.alternating.driver import Alternation, RunState, Schedule, should_stop
from altmarl.alternating.evaluators import (
    Estimate,
    ExactEvaluator,
    PairEvaluator,
    RolloutEvaluator,
)
from altmarl.alternating.global_steps import (
    CONSERVATIVE_FRACTIONS,
    ColdStart,
    ReusedAnswer,
    Safeguarded,
    safeguard_candidates,
)
from altmarl.alternating.history import (
    HISTORY_FIELDS,
    TIMING_FIELDS,
    HistoryRow,
    read_history,
    write_history,
)
from altmarl.alternating.local_steps import NAwareLocal, deterministic_projection, n_agent_search
from altmarl.alternating.marl import (
    AlternatingMARL,
    AlternatingResult,
    final_evaluation,
    final_seed,
)
from altmarl.alternating.moves import GlobalMove, LocalMove, Move, Proposal
from altmarl.alternating.update import (
    DECISIONS,
    Comparison,
    KeepBetter,
    SequentialUpdate,
    ToleranceUpdate,
    Verdict,
    decide_difference,
    judge,
    update_rule,
)

__all__ = [
    "CONSERVATIVE_FRACTIONS",
    "DECISIONS",
    "EVALUATIONS",
    "GLOBAL_CANDIDATES",
    "HISTORY_FIELDS",
    "PLAYERS",
    "STOP_RULES",
    "TIMING_FIELDS",
    "AlternatingConfig",
    "AlternatingMARL",
    "AlternatingResult",
    "Alternation",
    "ColdStart",
    "Comparison",
    "Estimate",
    "ExactEvaluator",
    "GlobalMove",
    "HistoryRow",
    "KeepBetter",
    "LocalMove",
    "Move",
    "NAwareLocal",
    "PairEvaluator",
    "Proposal",
    "ReusedAnswer",
    "RolloutEvaluator",
    "RunState",
    "Safeguarded",
    "Schedule",
    "SequentialUpdate",
    "ToleranceUpdate",
    "Verdict",
    "decide_difference",
    "deterministic_projection",
    "final_evaluation",
    "final_seed",
    "judge",
    "n_agent_search",
    "read_history",
    "safeguard_candidates",
    "should_stop",
    "update_rule",
    "write_history",
]
