"""The continuous warehouse in the ecosystem: its PettingZoo ``ParallelEnv`` of online
execution, the registered ``altmarl/RepresentativeRobot-v0`` (with ``rgb_array`` rendering),
and a trained run directory acting inside the parallel env."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
gym = pytest.importorskip("gymnasium")
pytest.importorskip("pettingzoo")

import altmarl.envs  # noqa: E402,F401  (registers the Gymnasium ids)
from altmarl.continuous.env import ContinuousWarehouse  # noqa: E402
from altmarl.continuous.parallel_env import (  # noqa: E402
    ContinuousOnlineExecutionEnv,
    NetworkActors,
    episode_returns,
)
from altmarl.continuous.rollout import GreedyDispatcher, SampledLocal, simulate  # noqa: E402
from altmarl.errors import AltmarlError  # noqa: E402

#: Two-sided normal quantile of the statistical check: false-failure rate 0.1%.
Z = 3.29
W = ContinuousWarehouse(n=24, horizon=12)


def test_parallel_env_passes_pettingzoo_api_and_seed_tests():
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    parallel_api_test(ContinuousOnlineExecutionEnv(4, W), num_cycles=30)
    parallel_seed_test(lambda: ContinuousOnlineExecutionEnv(4, W))


def test_parallel_env_observations_and_common_reward():
    env = ContinuousOnlineExecutionEnv(W.n, W, render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    for t in range(W.horizon):
        s_g = float(obs["global"][0])
        s = np.array([obs[f"local_{i}"][1] for i in range(W.n)], dtype=np.float64)
        assert all(obs[f"local_{i}"][0] == np.float32(s_g) for i in range(W.n))
        # k = n: the dispatcher's histogram is the whole population's
        bins = np.clip(np.round((s + 1.6) / 0.8), 0, 4).astype(int)
        assert np.allclose(obs["global"][1:], np.bincount(bins, minlength=5) / W.n)
        a_g, a_l = t % 5, np.arange(W.n) % 3
        actions = {"global": a_g, **{f"local_{i}": int(a_l[i]) for i in range(W.n)}}
        obs, rew, _, trunc, info = env.step(actions)
        # r = r_g + (1/n) sum r_l (SPEC §7 G.2 formulas), the same for every agent
        tau, delta = (-1.6, -0.8, 0.0, 0.8, 1.6), np.array([0.0, 0.05, -0.05])
        r_g = 5 * math.exp(-((s_g - tau[a_g]) ** 2) / (2 * 0.3**2))
        r_l = 10 * np.exp(-((s - s_g) ** 2) / (2 * 0.2**2)) - 5 * np.abs(delta[a_l])
        assert all(r == pytest.approx(r_g + r_l.mean(), abs=1e-4) for r in rew.values())
        assert info["local_2"]["local_reward"] == pytest.approx(r_l[2], abs=1e-4)
        assert all(trunc.values()) == (t == W.horizon - 1)
    assert env.agents == [] and env.render().shape == (96, 160, 3)
    with pytest.raises(AltmarlError, match="reset"):
        env.step({})


def test_trained_run_in_the_parallel_env_matches_simulate(tmp_path):
    from altmarl.continuous.training import ContinuousConfig, train_continuous

    cfg = ContinuousConfig(k=3, n=W.n, horizon=W.horizon, alternations=2, eval_episodes=2,
                           final_rollouts=2)  # fmt: skip
    train_continuous(cfg, out_dir=tmp_path)
    actors = NetworkActors.from_run_dir(tmp_path, seed=1)
    R = 120
    returns = episode_returns(ContinuousOnlineExecutionEnv(3, W), actors, R, seed=2)
    dispatcher, local = actors._dispatcher, actors._local
    assert isinstance(dispatcher, GreedyDispatcher) and isinstance(local, SampledLocal)
    ref = simulate(W, dispatcher, local, 3, 2000, 3).returns.double()
    se = math.hypot(returns.std(ddof=1) / math.sqrt(R), float(ref.std()) / math.sqrt(2000))
    # two independent Monte Carlo estimates of the pair's H-step value
    assert abs(returns.mean() - float(ref.mean())) <= Z * se
    # power: an error above about 5 se (20% of the value) fails with probability >= 95%
    assert se < 0.04 * float(ref.mean())
