"""altmarl: ALTERNATING-MARL for one global agent and n homogeneous local agents.

Layers, lower never importing upper (``docs/architecture.md``, ``tests/test_layers.py``):
``errors``, ``memory``, ``counts`` <- ``game``, ``laws`` <- ``policies`` <- ``simulate``,
``exact`` <- ``oracles`` <- ``glearn``, ``llearn`` <- ``alternating`` <- ``experiments``,
``cli``.
"""

from altmarl._version import __version__
from altmarl.counts import CountSpace, TupleSpace
from altmarl.errors import AltmarlError, GameValidationError, MemoryBudgetError, PolicyError
from altmarl.game import TabularGame
from altmarl.policies import GlobalPolicy, LocalPolicy, UniformGlobalPolicy
from altmarl.policy_dir import load_policy_dir, save_policy_dir

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
