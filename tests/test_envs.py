"""Tabular environments (``altmarl.envs``): the PettingZoo ``ParallelEnv`` of online execution
(Algorithm 5), the Gymnasium ``RepresentativeAgent-v0`` of a representative local agent
(SPEC §4), their registration and rendering, and Stable-Baselines3 PPO learning in the latter.

Statistical checks compare two independent routes with a z-bound stated where used; every
random generator is seeded, so each check is deterministic."""

from __future__ import annotations

import subprocess
import sys
import warnings

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
from altmarl.envs.representative import RepresentativeAgentEnv  # noqa: E402
from altmarl.errors import AltmarlError  # noqa: E402
from altmarl.game import TabularGame  # noqa: E402
from altmarl.policies import GlobalPolicy, LocalPolicy  # noqa: E402
from altmarl.policy_dir import save_policy_dir  # noqa: E402
from altmarl.scenarios import random_game, warehouse  # noqa: E402
from altmarl.simulate import evaluate  # noqa: E402

#: Two-sided normal quantile of the statistical checks: false-failure rate 0.1% each.
Z = 3.29


def _constant(game: TabularGame, action: int, k: int) -> GlobalPolicy:
    return GlobalPolicy.constant(
        action, num_global_states=game.num_sg, num_actions=game.num_ag, k=k,
        num_local_states=game.num_sl,
    )  # fmt: skip


def follow_global_game() -> TabularGame:
    """Deterministic toy: ``s_g' = a_g``; every local agent jumps to the CURRENT ``s_g``
    whatever it does; ``r_g = a_g``, ``r_l = s_l + a_l``."""
    P_g = np.zeros((3, 3, 3))
    P_g[:, np.arange(3), np.arange(3)] = 1.0
    P_l = np.zeros((3, 3, 2, 3))
    for g in range(3):
        P_l[:, g, :, g] = 1.0
    r_g = np.tile(np.arange(3.0), (3, 1))
    r_l = np.arange(3.0)[:, None, None] + np.array([0.0, 1.0])[None, None, :]
    r_l = np.broadcast_to(r_l, (3, 3, 2))
    return TabularGame.from_arrays(P_g=P_g, P_l=P_l, r_g=r_g, r_l=r_l, gamma=0.9)


# ---------------------------------------------------------------------------- PettingZoo


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


# ---------------------------------------------------------------------------- Gymnasium


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


def test_representative_agent_with_k_equal_n_sees_itself_and_earns_its_r_l():
    game = warehouse()
    env = RepresentativeAgentEnv(game, n=7, k=7, global_policy=_constant(game, 1, 7))
    obs, _ = env.reset(seed=1)
    for a in (0, 1, 2, 1):
        others = env._others.copy()
        s_l, s_g = int(obs[0]), int(obs[1])
        obs, r, term, trunc, info = env.step(a)
        everyone = others.copy()
        everyone[s_l] += 1
        assert np.array_equal(info["subsample_counts"], everyone)
        assert r == pytest.approx(game.r_l[s_l, s_g, a])
        assert info["global_action"] == 1 and not term and not trunc
        assert game.r_g[s_g, 1] <= info["stage_reward"] <= game.r_g[s_g, 1] + game.rl_max


def test_representative_agent_and_the_others_move_with_the_current_global_state():
    game = follow_global_game()  # s_g' = a_g; every agent jumps to the CURRENT s_g
    for seed in range(3):
        env = RepresentativeAgentEnv(game, n=5, k=5, global_policy=_constant(game, 1, 5))
        obs, _ = env.reset(seed=seed)
        s_l0, s_g0 = int(obs[0]), int(obs[1])
        obs, r, *_ = env.step(1)
        assert tuple(obs) == (s_g0, 1) and r == s_l0 + 1  # r_l = s_l + a_l
        _, _, _, _, info = env.step(0)
        assert np.array_equal(info["subsample_counts"], 5 * np.eye(3, dtype=int)[s_g0])


def test_representative_agent_playing_pi_l_is_online_execution():
    # The agent following the population's policy makes the system plain online execution:
    # the discounted stage return must agree with evaluate (counts simulator) within Z SE.
    game = random_game(2, num_local_states=3)
    k, n, H, R = 2, 9, 20, 200
    mode = np.random.default_rng(0).integers(0, 2, size=(2, 6))
    pi_g = GlobalPolicy(mode, k, 3, 2)
    pi_l = LocalPolicy(np.random.default_rng(1).dirichlet(np.ones(2), size=(3, 2)))
    env = RepresentativeAgentEnv(game, n=n, k=k, global_policy=pi_g, local_policy=pi_l, horizon=H)
    rng = np.random.default_rng(4)
    returns = np.zeros(R)
    for e in range(R):
        obs, _ = env.reset(seed=100 + e)
        for t in range(H):
            a = rng.choice(2, p=pi_l.probs[obs[0], obs[1]])
            obs, _, _, _, info = env.step(int(a))
            returns[e] += game.gamma**t * info["stage_reward"]
    ref = evaluate(game, pi_g, pi_l, n=n, k=k, rollouts=4000, horizon=H, seed=5)
    se = np.hypot(returns.std(ddof=1) / np.sqrt(R), ref.stderr)
    assert abs(returns.mean() - ref.mean) <= Z * se
    assert se < 0.02 * ref.mean  # the check has power: a 2% error would show


def test_representative_agent_rejects_bad_input(tmp_path):
    game = warehouse()
    with pytest.raises(AltmarlError, match="differs from the global policy"):
        RepresentativeAgentEnv(game, n=10, k=3, global_policy=_constant(game, 0, 2))
    with pytest.raises(AltmarlError, match="k is required"):
        RepresentativeAgentEnv(game, n=10)
    with pytest.raises(AltmarlError, match="scenario"):
        RepresentativeAgentEnv("nowhere", n=10, k=1)
    with pytest.raises(AltmarlError, match="policy-dir"):
        RepresentativeAgentEnv(game, n=10, global_policy=tmp_path)
    env = RepresentativeAgentEnv(game, n=10, k=2)
    with pytest.raises(AltmarlError, match="reset"):
        env.step(0)


# ---------------------------------------------------------------------------- SB3 on it


def exact_agent_value(game: TabularGame, a_g: int, table: np.ndarray, horizon: int) -> float:
    """The representative agent's ``sum_{t<H} gamma^t E[r_l]`` when the global agent always
    plays ``a_g``: then ``s_g`` ignores the population and ``(s_l, s_g)`` is a Markov chain
    under the agent's policy ``table [S_l, S_g, A_l]``; the agent starts from the marginal of
    one agent's initial state (the Dirichlet's mean) and ``rho_g``."""
    P = np.einsum("lga,lgam,gh->lgmh", table, game.P_l, game.P_g[:, a_g, :])
    P = P.reshape(game.num_sl * game.num_sg, -1)
    r = np.einsum("lga,lga->lg", table, game.r_l).reshape(-1)
    alpha = game.dirichlet_alpha
    rho_l = alpha / alpha.sum() if alpha is not None else game.rho_l
    mu = np.outer(rho_l, game.rho_g).reshape(-1)
    value = 0.0
    for t in range(horizon):
        value += game.gamma**t * mu @ r
        mu = mu @ P
    return float(value)


def test_exact_agent_value_matches_the_env():
    game, H, R = warehouse(), 25, 200
    table = np.random.default_rng(0).dirichlet(np.ones(3), size=(5, 5))
    env = RepresentativeAgentEnv(game, n=30, k=3, global_policy=_constant(game, 2, 3), horizon=H)
    rng = np.random.default_rng(1)
    returns = np.zeros(R)
    for e in range(R):
        obs, _ = env.reset(seed=e)
        for t in range(H):
            obs, r, *_ = env.step(int(rng.choice(3, p=table[obs[0], obs[1]])))
            returns[e] += game.gamma**t * r
    exact = exact_agent_value(game, 2, table, H)
    se = returns.std(ddof=1) / np.sqrt(R)
    assert abs(returns.mean() - exact) <= Z * se
    assert se < 0.05 * exact  # the check has power: a 5% error would show


def test_sb3_ppo_on_the_registered_env_beats_the_uniform_policy():
    torch = pytest.importorskip("torch")
    sb3 = pytest.importorskip("stable_baselines3")
    game, H = warehouse(), 50
    env = gym.make("altmarl/RepresentativeAgent-v0", game=game, n=50, k=5,
                   global_policy=_constant(game, 2, 5), horizon=H)  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = sb3.PPO("MlpPolicy", env, n_steps=256, batch_size=64, learning_rate=3e-3,
                        gamma=game.gamma, seed=0, device="cpu")  # fmt: skip
        model.learn(2048)
    finally:
        torch.set_num_threads(threads)
    obs = np.array([[s, g] for s in range(5) for g in range(5)])
    with torch.no_grad():
        dist = model.policy.get_distribution(model.policy.obs_to_tensor(obs)[0])
    greedy = np.eye(3)[dist.distribution.probs.numpy().argmax(1)].reshape(5, 5, 3)
    learned = exact_agent_value(game, 2, greedy, H)
    uniform = exact_agent_value(game, 2, np.full((5, 5, 3), 1 / 3), H)
    # Exact values (no Monte Carlo error). Seed 0: learned 73.7, uniform 58.9, and the best
    # (non-stationary) policy 84.1; over seeds 0-4 the gain ranges from 7.1 to 19.1. The test
    # asks for a fifth of the optimal gain of 25.2.
    assert learned >= uniform + 5.0, (learned, uniform)
