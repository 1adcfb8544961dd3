"""The representative robot as a Gymnasium env (``continuous/gym_env.py``): ``check_env``,
seeding, its registered id and ``rgb_array`` rendering."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
gym = pytest.importorskip("gymnasium")

import altmarl.envs  # noqa: E402,F401  (registers the Gymnasium ids)
from altmarl.continuous.env import ContinuousWarehouse  # noqa: E402
from altmarl.errors import AltmarlError  # noqa: E402


def test_gymnasium_env_passes_check_env_and_is_seeded():
    from gymnasium.utils.env_checker import check_env

    from altmarl.continuous.gym_env import RepresentativeRobotEnv

    env = RepresentativeRobotEnv(k=5, warehouse=ContinuousWarehouse(n=50, horizon=12))
    check_env(env, skip_render_check=True)
    obs1, _ = env.reset(seed=4)
    traj1 = [env.step(1)[:4] for _ in range(12)]
    obs2, _ = env.reset(seed=4)
    traj2 = [env.step(1)[:4] for _ in range(12)]
    assert np.array_equal(obs1, obs2)
    assert all(
        np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(traj1, traj2, strict=True)
    )
    assert traj1[-1][3] and not traj1[-2][3]  # truncated exactly at the horizon
    # the reward is the robot's r_l at the pre-step state: moving costs 5 * 0.05
    obs, _ = env.reset(seed=5)
    _, r, *_ = env.step(2)
    d = float(obs[1]) - float(obs[0])
    assert r == pytest.approx(10 * math.exp(-(d**2) / 0.08) - 0.25, abs=1e-4)


W = ContinuousWarehouse(n=24, horizon=12)


def test_representative_robot_is_registered_and_passes_check_env_without_warnings():
    from gymnasium.utils.env_checker import check_env

    env = gym.make("altmarl/RepresentativeRobot-v0", k=5, warehouse=W, render_mode="rgb_array")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []
    env.reset(seed=1)
    env.step(0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (96, 160, 3)
    from altmarl.continuous.gym_env import RepresentativeRobotEnv

    with pytest.raises(AltmarlError, match="render_mode"):
        RepresentativeRobotEnv(render_mode="ansi")
