"""Stable-Baselines3 on the registered ``altmarl/RepresentativeAgent-v0``.

The representative robot of the G.1 warehouse (SPEC §4): one robot among ``n``, the dispatcher
fixed (here it always gives zone 2 priority, so the robot should walk there and stay), the
other robots uniformly random. PPO learns the robot's policy from the robot's own reward
``r_l``; its greedy policy is compared with the uniform one on the same evaluation episodes.
Needs the ``[deep]`` and ``[pettingzoo]`` extras.

    python examples/sb3_representative_agent.py
"""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO

import altmarl.envs  # noqa: F401  (registers altmarl/RepresentativeAgent-v0)
from altmarl.policies import GlobalPolicy
from altmarl.scenarios import warehouse

SMALL = bool(os.environ.get("ALTMARL_EXAMPLE_SMALL"))
steps, episodes = (1024, 10) if SMALL else (20_000, 100)
torch.set_num_threads(1)  # small networks: one thread is as fast

game, k = warehouse(), 5
priority = GlobalPolicy.constant(2, num_global_states=5, num_actions=5, k=k, num_local_states=5)
env = gym.make("altmarl/RepresentativeAgent-v0", game=game, n=100, k=k,
               global_policy=priority, horizon=50)  # fmt: skip
model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, learning_rate=3e-3,
            gamma=game.gamma, seed=0, device="cpu")  # fmt: skip
model.learn(steps)


def mean_return(act) -> float:
    rng, total = np.random.default_rng(0), 0.0
    for episode in range(episodes):
        obs, _ = env.reset(seed=1000 + episode)
        done, discount = False, 1.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs, rng))
            total += discount * reward
            discount *= game.gamma
            done = terminated or truncated
    return total / episodes


learned = mean_return(lambda obs, rng: int(model.predict(obs, deterministic=True)[0]))
uniform = mean_return(lambda obs, rng: int(rng.integers(game.num_al)))
print(f"PPO, {steps} steps on altmarl/RepresentativeAgent-v0 (warehouse, n = 100, k = {k})")
print(f"robot's discounted return: learned {learned:.1f}, uniform {uniform:.1f}")
