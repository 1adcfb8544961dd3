"""What the two chained MDPs share (SPEC §4a, §4b): :class:`ChainedMDP`, the result of
:func:`~altmarl.llearn.chained.chained_mdp`, and the checks of its arguments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.llearn.mdp import EpisodicMDP
from altmarl.policies import GlobalPolicy, LocalPolicy

#: Bytes per stored transition (COO triplets while building, then CSR), for the budget.
BYTES_PER_NNZ = 48


@dataclass(frozen=True, eq=False)
class ChainedMDP:
    """A chained MDP and how its micro states map back to the game (SPEC §4a/§4b).

    mdp : the :class:`EpisodicMDP` (observation id ``s_l * S_g + s_g``).
    kind : ``"k"`` (Algorithm 21) or ``"mean-field"`` (Algorithm 28).
    steps_per_macro : micro steps per macro step (``k + 1`` or ``|S_l| + 1``).
    decode : micro state index -> a readable tuple describing it.
    """

    mdp: EpisodicMDP
    kind: str
    k: int
    T: int
    steps_per_macro: int
    num_sl: int
    num_sg: int
    decode: Callable[[int], tuple]

    def shared_table(self, local_policy: LocalPolicy | np.ndarray) -> np.ndarray:
        """The shared local policy as the restricted table ``[O, A]`` of this chain."""
        p = (
            local_policy.probs
            if isinstance(local_policy, LocalPolicy)
            else np.asarray(local_policy)
        )
        return p.reshape(self.num_sl * self.num_sg, -1)

    def to_local_policy(self, table: np.ndarray) -> LocalPolicy:
        """A restricted table ``[O, A]`` as the shared :class:`LocalPolicy` ``[S_l, S_g, A_l]``."""
        t = np.asarray(table, dtype=np.float64)
        t = t / t.sum(axis=1, keepdims=True)
        return LocalPolicy(t.reshape(self.num_sl, self.num_sg, -1))


def check_k_T(k: int, T: int) -> None:
    if int(k) != k or k < 1:
        raise AltmarlError(f"k = {k} must be an integer >= 1")
    if int(T) != T or T < 1:
        raise AltmarlError(f"T = {T} (macro steps) must be an integer >= 1")


def check_policy(game: TabularGame, pi_g: GlobalPolicy, k: int) -> None:
    if pi_g.k != k:
        raise AltmarlError(f"global policy is for k = {pi_g.k}, not k = {k}")
    if (pi_g.num_global_states, pi_g.num_actions, pi_g.num_local_states) != (
        game.num_sg,
        game.num_ag,
        game.num_sl,
    ):
        raise AltmarlError("global policy does not fit the game's |S_g|, |A_g|, |S_l|")


def chain_episodic_mdp(
    game: TabularGame,
    P: sp.csr_matrix | tuple[sp.csr_matrix, ...],
    reward: np.ndarray,
    initial: np.ndarray,
    observation: np.ndarray,
    num_actions: int,
    num_observations: int,
    T: int,
    steps_per_period: int,
    name: str,
) -> EpisodicMDP:
    """The episodic MDP of a chained construction: ``T`` periods of ``steps_per_period``
    chain steps each, every step of period ``t`` discounted by ``gamma^t`` (Algorithms 21
    and 28)."""
    H = T * steps_per_period
    return EpisodicMDP(
        P=P,
        reward=reward,
        horizon=H,
        initial=initial,
        num_actions=num_actions,
        time_weight=game.gamma ** (np.arange(H) // steps_per_period),
        observation=observation,
        num_observations=num_observations,
        name=name,
    )
