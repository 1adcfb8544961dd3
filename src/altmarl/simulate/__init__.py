"""Online execution (SPEC §6, Algorithm 5) with two simulators behind one interface.

At every step ``t``: draw ``Delta_t``, a uniformly random ``k``-subset of the ``n`` agents
without replacement; ``a_g = pi_g(s_g, counts(s_Delta))``; every agent draws
``a_i ~ pi_l(.|s_i, s_g)``; collect ``r = r_g(s_g, a_g) + (1/n) sum_i r_l(s_i, s_g, a_i)``;
then ``s_g' ~ P_g(.|s_g, a_g)`` and ``s_i' ~ P_l(.|s_i, s_g, a_i)`` (current ``s_g``).

* :class:`AgentSimulator` keeps one state per agent (``[R, n]``) and steps every agent in a
  jitted, parallel kernel: no Python loop over agents.
* :class:`CountSimulator` keeps only ``(s_g, counts of the n agents)``; the subsample's
  counts are multivariate hypergeometric, each bin's agents choose actions by a
  multinomial, and each (bin, action) group moves by a multinomial. Exact in
  distribution, with a per-step cost independent of ``n`` (``n = 10^9`` is fine).

Both draw the subsample by Floyd's algorithm on agent indices (exact uniform ``k``-subsets
for any ``n``, cost ``O(k^2)``), mapping indices to local states through the population's
cumulative counts (counts simulator) or the per-agent states (agents simulator).
"""

from altmarl.simulate.agent_simulator import MAX_AGENTS, AgentSimulator
from altmarl.simulate.count_simulator import CountSimulator
from altmarl.simulate.execution import SimulatorName, evaluate, get_simulator
from altmarl.simulate.rollouts import SIMULATORS, Rollouts, Simulator
from altmarl.simulate.subsample import subsample_counts, subsample_indices

__all__ = [
    "MAX_AGENTS",
    "SIMULATORS",
    "AgentSimulator",
    "CountSimulator",
    "Rollouts",
    "Simulator",
    "SimulatorName",
    "evaluate",
    "get_simulator",
    "subsample_counts",
    "subsample_indices",
]
