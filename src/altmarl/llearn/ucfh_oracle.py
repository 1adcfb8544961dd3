"""L-LEARN by UCFH (SPEC §4a, §4d, §4e): the paper's route to the local best response.

The k-chained MDP (Algorithm 21, or Algorithm 28 with ``chain="mean-field"``) truncated to
``T`` macro steps (Lemma C.1), learned by UCFH from samples, then projected to the shared
class by occupancy-weighted action frequencies at each observation ``(s_l, s_g)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from altmarl.game import TabularGame
from altmarl.llearn.common import LLearnInfo, chain_setup, deployable
from altmarl.llearn.mdp import (
    EpisodicMDP,
    evaluate_policy,
    evaluate_restricted,
    project_to_observations,
)
from altmarl.llearn.reductions import state_reward_mdp, truncation_bound, unlift_policy
from altmarl.llearn.ucfh import DEFAULT_KNOWNNESS, theory_knownness_threshold, ucfh
from altmarl.oracles import LLearnResult
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.seeding import Seed, as_generator


@dataclass(frozen=True)
class UCFHOracle:
    """L-LEARN by UCFH on the chained MDP, projected to the shared class (SPEC §4a, §4d, §4e).

    eps : UCFH's target accuracy on the chain (default ``0.02 r_max / (1 - gamma)``).
    chain : ``"k"`` (Algorithm 21) or ``"mean-field"`` (Algorithm 28; the projection is
        rounded to a deterministic policy, the one class whose chain value is its value).
    max_episodes : UCFH's episode budget (it stops earlier once certified ``eps``-optimal).
        UCFH pools its counts over time steps, as the chain's kernel is stationary.
    state_rewards : run on the Algorithm-17 MDP (state rewards, horizon ``2H``); UCFH
        accepts ``r(s, a, t)`` directly, so this is off by default.
    """

    T: int | None = None
    truncation_eps: float | None = None
    chain: str = "k"
    eps: float | None = None
    delta: float = 0.1
    max_episodes: int = 20_000
    knownness: int = DEFAULT_KNOWNNESS
    state_rewards: bool = False

    def best_response(
        self,
        game: TabularGame,
        global_policy: GlobalPolicy,
        k: int,
        *,
        local_policy: LocalPolicy | None = None,
        seed: Seed = 0,
    ) -> LLearnResult[LocalPolicy]:
        start = time.perf_counter()
        pi0, T, ch = chain_setup(game, global_policy, k, local_policy, self)
        mdp = ch.mdp
        eps = 0.02 * game.value_bound if self.eps is None else self.eps
        learn_on: EpisodicMDP = state_reward_mdp(mdp) if self.state_rewards else mdp
        res = ucfh(
            learn_on,
            eps=eps,
            delta=self.delta,
            max_episodes=self.max_episodes,
            knownness=self.knownness,
            pool_time=learn_on.stationary,
            seed=as_generator(seed),
        )
        chain_policy = (
            unlift_policy(res.policy, mdp)
            if self.state_rewards
            else np.eye(mdp.num_actions)[res.policy]
        )
        chained_value = evaluate_policy(mdp, chain_policy)[0]
        table = deployable(ch, project_to_observations(mdp, chain_policy))
        pi_new = ch.to_local_policy(table)
        value = evaluate_restricted(mdp, ch.shared_table(pi_new))
        info = LLearnInfo(
            oracle="ucfh",
            value=value,
            start_value=evaluate_restricted(mdp, ch.shared_table(pi0)),
            seconds=time.perf_counter() - start,
            T=T,
            truncation_error=truncation_bound(game.gamma, game.r_max, T),
            chained_value=chained_value,
            projected_value=value,
            episodes=res.episodes,
            samples=res.samples,
            num_states=mdp.num_states,
            extra={
                "ucfh_optimistic": res.v_optimistic,
                "ucfh_pessimistic": res.v_pessimistic,
                "ucfh_certified": res.certified,
                "ucfh_replans": res.replans,
                "ucfh_knownness": res.knownness,
                "ucfh_theory_knownness": theory_knownness_threshold(
                    learn_on.num_states, learn_on.num_actions, learn_on.horizon, eps, self.delta
                ),
                "ucfh_eps": eps,
                "chain": self.chain,
            },
        )
        return LLearnResult(pi_new, info)
