"""The chained MDPs that turn L-LEARN into single-agent RL (SPEC §4a, §4b).

* :func:`k_chained_mdp` — the ``k``-chained MDP (Algorithm 21). Micro state
  ``(s_1..s_k, s_g, s_g_pending, i)``; micro step ``i = 0`` is the global agent's
  (``a_g = pi_g(s_g, counts(s_1..s_k))``, ``s_g_pending ~ P_g``, reward ``r_g``; the
  learner's action has no effect there); micro step ``i = 1..k`` moves replica ``i`` only,
  ``s_i' ~ P_l(. | s_i, s_g, a_i)``, reward ``r_l(s_i, s_g, a_i) / k``; after ``i = k`` the
  pending global state is committed. The learner sees ``(s_i, s_g)`` in the deployable
  class: observation id ``s_i * S_g + s_g`` (``-1`` at ``i = 0``).
* :func:`mean_field_chained_mdp` — the mean-field chained MDP (Algorithm 28): a tagged
  agent plus the count vector of the other ``k - 1`` sampled agents. Micro step 0
  evaluates ``pi_g`` on all ``k`` counts, caches ``s_g_pending`` and moves the tagged agent
  (observation ``(s_tag, s_g)``); micro steps ``1..|S_l|`` sweep the bins ``j``: the
  learner's action for bin ``j`` moves the whole mass ``c_j`` by
  ``Multinomial(c_j, P_l(. | j, s_g, a))`` (observation ``(j, s_g)``, ``-1`` for an empty
  bin); then ``c'`` and ``s_g_pending`` are committed.

Both fold the discount into a finite horizon (SPEC §4c): ``T`` macro steps, reward of
micro step ``t`` weighted by ``gamma^(t // steps_per_macro)``, so a chain's value is the
``T``-step discounted value of the ``k``-agent system (within ``gamma^T r_max / (1-gamma)``
of the infinite-horizon one, Lemma C.1).

Initial micro state: ``s_g ~ rho_g`` and the ``k`` replicas exchangeable with the game's
local initializer (i.i.d. ``rho_l``, or one ``Dirichlet(alpha)`` draw shared by all).
"""

from __future__ import annotations

from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.llearn.chain_common import ChainedMDP
from altmarl.llearn.k_chain import k_chain_num_states, k_chain_state_index, k_chained_mdp
from altmarl.llearn.mean_field_chain import (
    MAX_MEAN_FIELD_CHAIN_STATES,
    mean_field_chain_state_bound,
    mean_field_chained_mdp,
)
from altmarl.policies import GlobalPolicy

__all__ = [
    "MAX_MEAN_FIELD_CHAIN_STATES",
    "ChainedMDP",
    "chained_mdp",
    "k_chain_num_states",
    "k_chain_state_index",
    "k_chained_mdp",
    "mean_field_chain_state_bound",
    "mean_field_chained_mdp",
]


def chained_mdp(
    game: TabularGame, pi_g: GlobalPolicy, k: int, T: int, *, kind: str = "k", **kw
) -> ChainedMDP:
    """Either chain by name: ``kind="k"`` (Algorithm 21) or ``"mean-field"`` (Algorithm 28)."""
    if kind == "k":
        return k_chained_mdp(game, pi_g, k, T, **kw)
    if kind == "mean-field":
        return mean_field_chained_mdp(game, pi_g, k, T, **kw)
    raise AltmarlError(f"chain kind {kind!r} must be 'k' or 'mean-field'")
