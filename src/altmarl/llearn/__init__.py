"""L-LEARN: best response of the shared local policy to a fixed global policy (SPEC §4).

Three oracles behind one interface (:class:`LocalOracle`):

* :class:`UCFHOracle` (``"ucfh"``) — the paper's route: the k-chained MDP (Algorithm 21,
  or Algorithm 28 with ``chain="mean-field"``) truncated to ``T`` macro steps (Lemma C.1),
  learned by UCFH from samples (SPEC §4d), then projected to the shared class by
  occupancy-weighted action frequencies at each observation ``(s_l, s_g)`` (SPEC §4e).
* :class:`PlanningOracle` (``"planning"``) — exact model-based optimisation of the shared
  policy on the same chained MDP: coordinate ascent over deterministic shared policies
  with exact evaluation, started from the projection of the chain's exact optimum and
  from the current policy (small ``k``).
* :class:`MeanFieldOracle` (``"mean-field"``) — the representative agent's best response
  against the population's mean-field flow under the current ``pi_l`` (large ``k``).

Values reported by the chain oracles are ``T``-step discounted values of the ``k``-agent
system (exact, on the chain); the mean-field oracle reports its mean-field estimate.
"""

from altmarl.llearn.common import DEFAULT_TRUNCATION_FRACTION, LLearnInfo, default_T
from altmarl.llearn.mean_field import MeanFieldFlow, MeanFieldOracle, mean_field_flow
from altmarl.llearn.planning import PlanningOracle, coordinate_ascent
from altmarl.llearn.registry import ORACLES, best_response, make_oracle
from altmarl.llearn.ucfh_oracle import UCFHOracle
from altmarl.oracles import LLearnResult, LocalOracle

__all__ = [
    "DEFAULT_TRUNCATION_FRACTION",
    "ORACLES",
    "LLearnInfo",
    "LLearnResult",
    "LocalOracle",
    "MeanFieldFlow",
    "MeanFieldOracle",
    "PlanningOracle",
    "UCFHOracle",
    "best_response",
    "coordinate_ascent",
    "default_T",
    "make_oracle",
    "mean_field_flow",
]
