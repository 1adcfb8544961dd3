"""altmarl: ALTERNATING-MARL for one global agent and n homogeneous local agents.

Layers, lower never importing upper: ``game``, ``counts`` <- ``policies`` <- ``simulate``,
``exact`` <- ``glearn``, ``llearn`` <- ``alternating`` <- ``experiments``, ``cli``.
"""

from altmarl.counts import CountSpace, TupleSpace
from altmarl.errors import AltmarlError, GameValidationError, MemoryBudgetError, PolicyError
from altmarl.game import TabularGame
from altmarl.policies import (
    GlobalPolicy,
    LocalPolicy,
    UniformGlobalPolicy,
    load_policy_dir,
    save_policy_dir,
)

__version__ = "0.1.0"

__all__ = [
    "AltmarlError",
    "CountSpace",
    "GameValidationError",
    "GlobalPolicy",
    "LocalPolicy",
    "MemoryBudgetError",
    "PolicyError",
    "TabularGame",
    "TupleSpace",
    "UniformGlobalPolicy",
    "__version__",
    "load_policy_dir",
    "save_policy_dir",
]
