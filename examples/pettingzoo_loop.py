"""A trained pair inside a PettingZoo ``ParallelEnv`` of online execution (Algorithm 5).

Train a dispatcher and a shared robot policy on the G.1 warehouse with ALTERNATING-MARL, save
them as a policy directory, then run them as PettingZoo agents ("global", "local_0", ...)
in ``altmarl.envs.parallel.OnlineExecutionEnv`` with the usual ``reset``/``step`` loop. The
mean discounted return in the env is printed beside ``altmarl.simulate.evaluate``'s estimate
of the same value: two independent Monte Carlo estimates that should agree within their
intervals. Needs the ``[pettingzoo]`` extra.

    python examples/pettingzoo_loop.py
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from altmarl.alternating import AlternatingConfig, AlternatingMARL
from altmarl.envs.parallel import GLOBAL, OnlineExecutionEnv, PairActors
from altmarl.policy_dir import save_policy_dir
from altmarl.scenarios import warehouse
from altmarl.simulate import evaluate

SMALL = bool(os.environ.get("ALTMARL_EXAMPLE_SMALL"))
k, n = (3, 30) if SMALL else (5, 200)
alternations, episodes, horizon = (2, 20, 30) if SMALL else (4, 100, 60)

game = warehouse()
config = AlternatingConfig(
    k=k, n=n, alternations=alternations, update_rollouts=20, final_rollouts=10
)
result = AlternatingMARL(game, config).run(progress=False)
policy_dir = tempfile.mkdtemp() + "/policy"
save_policy_dir(policy_dir, result.global_policy, result.local_policy)

# The PettingZoo loop: every agent acts on its own observation, every agent gets r(s, a).
env = OnlineExecutionEnv(game, n=n, k=k, horizon=horizon)
actors = PairActors.from_policy_dir(policy_dir, game, seed=1)
returns, hits = [], []
for episode in range(episodes):
    observations, infos = env.reset(seed=episode)
    ret, discount = 0.0, 1.0
    while env.agents:
        actions = actors.actions(observations)
        observations, rewards, terminations, truncations, infos = env.step(actions)
        ret += discount * rewards[GLOBAL]
        discount *= game.gamma
        hits.append(actions[GLOBAL] == int(np.argmax(infos[GLOBAL]["counts"])))
    returns.append(ret)

r = np.array(returns)
half = 1.96 * r.std(ddof=1) / np.sqrt(len(r))
ref = evaluate(game, actors.global_policy, actors.local_policy, n=n, k=k,
               rollouts=10 * episodes, horizon=horizon, seed=2)  # fmt: skip
lo, hi = ref.ci()
print(f"warehouse, n = {n}, k = {k}, horizon {horizon}")
print(f"PettingZoo env   : {r.mean():7.2f} +- {half:.2f}  ({episodes} episodes)")
print(f"simulate.evaluate: {ref.mean:7.2f} +- {(hi - lo) / 2:.2f}  ({ref.rollouts} rollouts)")
print(f"dispatcher chose the population's mode on {np.mean(hits):.0%} of the steps")
