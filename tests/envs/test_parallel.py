"""Online execution of a tabular game as a PettingZoo ``ParallelEnv`` (``envs/parallel.py``,
Algorithm 5): the API and seed tests, observations and rewards, a trained policy directory
against ``evaluate``."""

from __future__ import annotations

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
pytest.importorskip("pettingzoo")

import altmarl.envs  # noqa: E402,F401  (registers the Gymnasium ids)
from altmarl.alternating import AlternatingConfig, AlternatingMARL  # noqa: E402
from altmarl.envs.parallel import (  # noqa: E402
    GLOBAL,
    OnlineExecutionEnv,
    PairActors,
    episode_returns,
)
from altmarl.errors import AltmarlError  # noqa: E402
from altmarl.game import TabularGame  # noqa: E402
from altmarl.policy_dir import save_policy_dir  # noqa: E402
from altmarl.scenarios import random_game  # noqa: E402
from altmarl.simulate import evaluate  # noqa: E402
from envs_helpers import follow_global_game  # noqa: E402

#: Two-sided normal quantile of the statistical checks: false-failure rate 0.1% each.
Z = 3.29


def test_parallel_env_passes_pettingzoo_api_and_seed_tests():
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    env = OnlineExecutionEnv("warehouse", n=12, k=3, horizon=25)
    parallel_api_test(env, num_cycles=60)
    parallel_seed_test(lambda: OnlineExecutionEnv("warehouse", n=12, k=3, horizon=25))
    assert env.possible_agents == ["global"] + [f"local_{i}" for i in range(12)]


def test_parallel_env_observations_rewards_and_current_global_state():
    game = follow_global_game()
    env = OnlineExecutionEnv(game, n=6, k=6, horizon=4, render_mode="rgb_array")
    obs, _ = env.reset(seed=3)
    for t in range(4):
        s_g = int(obs[GLOBAL][0])
        states = np.array([obs[f"local_{i}"][0] for i in range(6)])
        assert all(obs[f"local_{i}"][1] == s_g for i in range(6))
        # k = n: the subsample is the whole population, so its counts are the population's
        assert np.array_equal(obs[GLOBAL][1:], np.bincount(states, minlength=3))
        a_g, a_l = (t + 1) % 3, np.arange(6) % 2
        actions = {GLOBAL: a_g, **{f"local_{i}": int(a_l[i]) for i in range(6)}}
        obs, rew, term, trunc, info = env.step(actions)
        # r = r_g(s_g, a_g) + (1/n) sum_i r_l(s_i, s_g, a_i), the same for every agent
        expected = a_g + np.mean(states + a_l)
        assert all(r == pytest.approx(expected) for r in rew.values()) and len(rew) == 7
        assert info["local_1"]["local_reward"] == pytest.approx(states[1] + 1)
        # local kernels use the CURRENT s_g: every agent now sits where s_g WAS
        assert all(obs[f"local_{i}"][0] == s_g for i in range(6))
        assert obs[GLOBAL][0] == a_g  # and s_g moved to a_g
        assert not any(term.values()) and all(trunc.values()) == (t == 3)
    assert env.agents == [] and env.render().shape == (96, 96, 3)
    with pytest.raises(AltmarlError, match="reset"):
        env.step(actions)


def test_parallel_env_subsample_is_without_replacement():
    # 3 agents, k = 2: the two sampled agents are distinct, so with one agent in each state
    # (fixed rho_l is impossible here) the counts never show one state twice.
    game = TabularGame.from_arrays(
        P_g=np.ones((1, 1, 1)), P_l=np.eye(3)[:, None, None, :], r_g=np.zeros((1, 1)),
        r_l=np.zeros((3, 1, 1)), gamma=0.5,
    )  # fmt: skip
    env = OnlineExecutionEnv(game, n=3, k=2, horizon=200)
    obs, _ = env.reset(seed=0)
    env._states = np.array([0, 1, 2])  # one agent per state; nobody moves (P_l = identity)
    seen = set()
    for _ in range(200):
        obs, *_ = env.step(dict.fromkeys(env.agents, 0))
        seen.add(tuple(obs[GLOBAL][1:]))
    assert seen == {(1, 1, 0), (1, 0, 1), (0, 1, 1)}  # every pair, never a repeated agent


def test_parallel_env_rejects_bad_input():
    with pytest.raises(AltmarlError, match="k = 5"):
        OnlineExecutionEnv("warehouse", n=4, k=5)
    env = OnlineExecutionEnv("warehouse", n=4, k=2)
    env.reset(seed=0)
    with pytest.raises(AltmarlError, match="lack agent"):
        env.step({GLOBAL: 0})
    with pytest.raises(AltmarlError, match="Discrete"):
        env.step({a: 7 for a in env.agents})


@pytest.fixture(scope="module")
def trained_pair_dir(tmp_path_factory):
    """A pair trained by ALTERNATING-MARL on a random 2x2x2x2 game (k = 2, exact
    evaluation on n = 4), saved as a policy directory."""
    game = random_game(5)
    config = AlternatingConfig(
        k=2, n=4, evaluation="exact", m=None, local_oracle="planning", eps_tol=1e-4
    )
    result = AlternatingMARL(game, config).run(progress=False)
    path = tmp_path_factory.mktemp("pair") / "policy"
    save_policy_dir(
        path, result.global_policy, result.local_policy, game_fingerprint=game.fingerprint
    )
    return game, path


def test_trained_policy_directory_in_the_env_matches_evaluate(trained_pair_dir):
    game, path = trained_pair_dir
    n, k, H, R = 20, 2, 25, 120
    actors = PairActors.from_policy_dir(path, game, seed=1)
    env = OnlineExecutionEnv(game, n=n, k=k, horizon=H)
    returns = episode_returns(env, actors, R, seed=2)
    ref = evaluate(game, actors.global_policy, actors.local_policy, n=n, k=k, rollouts=2000,
                   horizon=H, seed=3)  # fmt: skip
    se = np.hypot(returns.std(ddof=1) / np.sqrt(R), ref.stderr)
    # two independent Monte Carlo estimates of the same value V(pi_g, pi_l) over H steps
    assert abs(returns.mean() - ref.mean) <= Z * se
    assert se < 0.02 * ref.mean  # the check has power: a 2% error would show
