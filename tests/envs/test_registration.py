"""The Gymnasium ids registered by ``import altmarl.envs`` (``envs/registration.py``):
``check_env`` without warnings, rendering, and no torch import."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
pytest.importorskip("pettingzoo")

import altmarl.envs  # noqa: E402,F401  (registers the Gymnasium ids)
from altmarl.scenarios import warehouse  # noqa: E402
from envs_helpers import _constant  # noqa: E402


def test_registered_envs_pass_check_env_without_warnings():
    from gymnasium.utils.env_checker import check_env

    pi_g = _constant(warehouse(), 2, k=4)
    env = gym.make("altmarl/RepresentativeAgent-v0", game=warehouse(), global_policy=pi_g,
                   n=40, k=4, render_mode="rgb_array")  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)  # the spec is set: render modes and close are checked too
    assert [str(w.message) for w in caught] == []
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (96, 160, 3)
    assert "altmarl/RepresentativeRobot-v0" in gym.registry


def test_registration_does_not_import_torch(subprocess_env):
    code = (
        "import sys, gymnasium as gym, altmarl.envs\n"
        "gym.make('altmarl/RepresentativeAgent-v0', game='warehouse', n=10, k=2).reset(seed=0)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert out.stdout.strip() == "False"
