"""The exact count simulator of online execution (SPEC §6): state ``(s_g, counts of n)``.

The subsample's counts are multivariate hypergeometric, each bin's agents choose actions by
a multinomial and each (bin, action) group moves by a multinomial: exact in distribution,
with a per-step cost independent of ``n`` (``n = 10^9`` is fine).
"""

from __future__ import annotations

import time

import numpy as np

from altmarl.game import TabularGame
from altmarl.policies import GlobalActor, LocalPolicy
from altmarl.simulate.rollouts import Recorder, Rollouts, finish_rollouts
from altmarl.simulate.subsample import categorical, population_mode, subsample_counts


class CountSimulator:
    """Exact simulator on ``(s_g, counts of n agents)``; cost per step independent of ``n``."""

    name = "counts"

    def run(
        self,
        game: TabularGame,
        global_policy: GlobalActor,
        local_policy: LocalPolicy,
        n: int,
        k: int,
        rollouts: int,
        horizon: int,
        rng: np.random.Generator,
        record: bool = False,
    ) -> Rollouts:
        t0 = time.perf_counter()
        R, L = rollouts, game.num_sl
        rho = game.sample_local_distributions(rng, R)
        N = rng.multinomial(n, rho)  # [R, L]
        s_g = game.sample_global_states(rng, R)
        rec = Recorder(R, horizon, L) if record else None
        returns = np.zeros(R)
        disc = 1.0
        pi = local_policy.probs
        for t in range(horizon):
            sub = subsample_counts(N, k, rng)
            a_g = np.asarray(global_policy.act(s_g, sub, rng), dtype=np.int64)
            if rec is not None:
                rec.log(t, N / n, s_g, a_g, population_mode(N), sub)
            # each bin's agents choose actions: M[r, j, a]
            M = rng.multinomial(N, pi[:, s_g, :].transpose(1, 0, 2))
            rl = game.r_l[:, s_g, :].transpose(1, 0, 2)  # [R, L, A]
            reward = game.r_g[s_g, a_g] + (M * rl).sum(axis=(1, 2)) / n
            returns += disc * reward
            disc *= game.gamma
            # each (bin, action) group moves: [R, L, A, L]
            moves = rng.multinomial(M, game.P_l[:, s_g, :, :].transpose(1, 0, 2, 3))
            N = moves.sum(axis=(1, 2))
            s_g = categorical(game.P_g[s_g, a_g], rng)
        return finish_rollouts(returns, rec, n, k, horizon, game.gamma, self.name, t0)
