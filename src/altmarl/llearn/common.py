"""What the L-LEARN oracles share (SPEC §4): their info record, the Lemma C.1 horizon, input
checks, the chained MDP they start from, and the deployable projection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from altmarl.counts import check_k
from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.llearn.chained import (
    ChainedMDP,
    chained_mdp,
    k_chain_num_states,
    mean_field_chain_state_bound,
)
from altmarl.llearn.reductions import truncation_horizon
from altmarl.memory import check_memory
from altmarl.oracles import OracleInfo
from altmarl.policies import GlobalPolicy, LocalPolicy

#: Default truncation target of Lemma C.1, as a fraction of ``r_max / (1 - gamma)``.
DEFAULT_TRUNCATION_FRACTION = 0.05


@dataclass(frozen=True, kw_only=True)
class LLearnInfo(OracleInfo):
    """What an L-LEARN oracle did.

    value : the oracle's own estimate of ``V(pi_g, pi_l_new)`` (``T``-step discounted).
    start_value : the same estimate for the starting ``pi_l`` (uniform if none was given).
    chained_value : value of the unrestricted chained policy found (ucfh, planning).
    projected_value : value of its projection to the shared class (ucfh, planning).
    episodes, samples : UCFH's episodes and sampled transitions (0 for model-based oracles).
    T : macro steps of the truncated horizon; truncation_error : Lemma C.1 bound for ``T``.
    num_states : micro states of the chained MDP (population-flow states for mean-field).
    """

    oracle: str
    start_value: float
    T: int
    truncation_error: float
    chained_value: float | None = None
    projected_value: float | None = None
    num_states: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        d.update(self.extra)
        return d


def default_T(game: TabularGame, T: int | None, truncation_eps: float | None) -> int:
    """``T`` as given, or the Lemma C.1 horizon for ``truncation_eps`` (default
    ``DEFAULT_TRUNCATION_FRACTION * r_max / (1 - gamma)``)."""
    if T is not None:
        if int(T) != T or T < 1:
            raise AltmarlError(f"T = {T} (macro steps) must be an integer >= 1")
        return int(T)
    eps = (
        DEFAULT_TRUNCATION_FRACTION * game.value_bound if truncation_eps is None else truncation_eps
    )
    return truncation_horizon(game.gamma, game.r_max, eps)


def check_horizon(game: TabularGame, T: int, given: bool, bytes_per_step: int, what: str) -> None:
    """Refuse, before anything is allocated, a horizon whose tables (``bytes_per_step`` per
    macro step) exceed the memory budget; the message says where ``T`` came from."""
    origin = "--T" if given else f"Lemma C.1's horizon at gamma = {game.gamma!r}"
    check_memory(
        T * bytes_per_step,
        f"{what} over T = {T} macro steps ({origin})",
        hint="pass a smaller --T",
    )


def start_policy(game: TabularGame, local_policy: LocalPolicy | None) -> LocalPolicy:
    if local_policy is None:
        return LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
    local_policy.check_game(game.num_sl, game.num_sg, game.num_al)
    return local_policy


def check_inputs(game: TabularGame, global_policy: GlobalPolicy, k: int) -> None:
    check_k(k)
    if global_policy.k != k:
        raise AltmarlError(f"the global policy sees k = {global_policy.k} agents, not k = {k}")
    if (
        global_policy.num_global_states != game.num_sg
        or global_policy.num_actions != game.num_ag
        or global_policy.num_local_states != game.num_sl
    ):
        raise AltmarlError("the global policy does not fit the game's |S_g|, |A_g|, |S_l|")


def chain_setup(
    game: TabularGame,
    global_policy: GlobalPolicy,
    k: int,
    local_policy: LocalPolicy | None,
    oracle: Any,
) -> tuple[LocalPolicy, int, ChainedMDP]:
    """What both chain oracles start from: checked inputs, the starting ``pi_l``, the
    horizon ``T`` (Lemma C.1) and the chained MDP of ``oracle.chain`` kind."""
    check_inputs(game, global_policy, k)
    pi0 = start_policy(game, local_policy)
    T = default_T(game, oracle.T, oracle.truncation_eps)
    L, G, A = game.num_sl, game.num_sg, game.num_al
    if oracle.chain == "mean-field":
        micro, states = L + 1, mean_field_chain_state_bound(L, G, k)
    else:
        micro, states = k + 1, k_chain_num_states(L, G, k)
    # the chain's time-indexed tables: values, Q and the policy of every micro step
    check_horizon(game, T, oracle.T is not None, micro * (states * A * 8 * 3 + 16), "the chain")
    return pi0, T, chained_mdp(game, global_policy, k, T, kind=oracle.chain)


def deployable(ch: ChainedMDP, table: np.ndarray) -> np.ndarray:
    """On Algorithm 28's chain one action moves a whole bin, so only a DETERMINISTIC shared
    policy keeps its chain value under online execution: round to the most frequent action
    there. On the k-chain every replica draws its own action; the table is kept."""
    if ch.kind == "mean-field":
        return np.eye(table.shape[1])[table.argmax(axis=1)]
    return table
