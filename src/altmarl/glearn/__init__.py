"""G-LEARN: the global agent's best response to a fixed shared local policy (SPEC §3).

* :mod:`~altmarl.glearn.operator` -- the adapted Bellman operators ``T_k`` (exact) and
  ``That_{k,m}`` (empirical, samples from :mod:`~altmarl.glearn.sampling`), held as arrays;
* :mod:`~altmarl.glearn.value_iteration` -- their fixed point (certified stopping rules,
  Anderson mixing from :mod:`~altmarl.glearn.anderson`, the Bellman sweep of
  :mod:`~altmarl.glearn.bellman_sweep`) and eq. 20's greedy policy;
* :mod:`~altmarl.glearn.oracle` -- :func:`glearn`, and :class:`GLearnOracle`, G-LEARN behind
  the :class:`~altmarl.oracles.GlobalOracle` interface;
* :mod:`~altmarl.glearn.offpolicy` -- the same ``Q`` table from one logged trajectory
  (Appendix E), logged by :mod:`~altmarl.glearn.offpolicy_log`.
"""

from altmarl.glearn.operator import (
    DEFAULT_M,
    AdaptedOperator,
    empirical_adapted_bellman,
    exact_adapted_bellman,
    surrogate_reward,
)
from altmarl.glearn.oracle import GLearnInfo, GLearnOracle, glearn
from altmarl.glearn.sampling import SAMPLING_SCHEMES
from altmarl.glearn.value_iteration import STOPPING_RULES, greedy_policy, value_iteration
from altmarl.oracles import GLearnResult

__all__ = [
    "DEFAULT_M",
    "SAMPLING_SCHEMES",
    "STOPPING_RULES",
    "AdaptedOperator",
    "GLearnInfo",
    "GLearnOracle",
    "GLearnResult",
    "empirical_adapted_bellman",
    "exact_adapted_bellman",
    "glearn",
    "greedy_policy",
    "surrogate_reward",
    "value_iteration",
]
