"""Continuous extension (SPEC §7 G.2): environment formulas, Gymnasium env, TRPO step,
training against the uniform baseline, the study CLI and the evaluate hook."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")

from altmarl.continuous.env import (  # noqa: E402
    BIN_CENTRES,
    ContinuousWarehouse,
    bin_index,
    global_reward,
    global_step,
    initial_states,
    local_reward,
    local_step,
    mode_bin,
    subsample_histogram,
)
from altmarl.continuous.networks import LocalPolicyNet  # noqa: E402
from altmarl.continuous.rollout import (  # noqa: E402
    SampledLocal,
    UniformDispatcher,
    UniformLocal,
    simulate,
)
from altmarl.continuous.trpo import (  # noqa: E402
    TRPOConfig,
    categorical_kl,
    flat_params,
    trpo_step,
)
from altmarl.errors import AltmarlError  # noqa: E402

W = ContinuousWarehouse()
T = torch.tensor


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # The networks are small: one thread is as fast and never oversubscribes a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------- environment


def test_transitions_match_spec_formulas():
    # s_g' = clip(s_g + 0.6 (tau[a_g] - s_g) + 0.08 z)
    s_g = T([0.5, 1.9, -1.0])
    a_g = T([3, 4, 0])
    z = T([1.0, 2.0, -30.0])
    expected = [0.5 + 0.6 * (0.8 - 0.5) + 0.08, 1.9 + 0.6 * (1.6 - 1.9) + 0.16, -2.0]
    assert global_step(W, s_g, a_g, z).tolist() == pytest.approx(expected, abs=1e-6)
    # s_i' = clip(s_i + delta[a_i] + 0.04 z), delta = (0, +0.05, -0.05)
    s_l = T([[0.2, 1.98, -0.3]])
    a_l = T([[0, 1, 2]])
    z_l = T([[0.5, 0.5, -1.0]])
    expected_l = [0.2 + 0.02, 2.0, -0.3 - 0.05 - 0.04]
    assert local_step(W, s_l, a_l, z_l)[0].tolist() == pytest.approx(expected_l, abs=1e-6)


def test_rewards_match_spec_formulas():
    s_g = T([0.5, -1.6])
    a_g = T([3, 0])
    rg = [5 * math.exp(-(0.3**2) / (2 * 0.3**2)), 5.0]
    assert global_reward(W, s_g, a_g).tolist() == pytest.approx(rg, rel=1e-6)
    s_l = T([[0.2, 0.5, 2.0], [-1.6, -1.0, 0.0]])
    a_l = T([[2, 0, 1], [0, 1, 2]])
    rl0 = [
        10 * math.exp(-(0.3**2) / 0.08) - 5 * 0.05,
        10.0,
        10 * math.exp(-(1.5**2) / 0.08) - 5 * 0.05,
    ]
    rl1 = [10.0, 10 * math.exp(-(0.6**2) / 0.08) - 0.25, 10 * math.exp(-(1.6**2) / 0.08) - 0.25]
    got = local_reward(W, s_l, s_g, a_l)
    assert got[0].tolist() == pytest.approx(rl0, rel=1e-5)
    assert got[1].tolist() == pytest.approx(rl1, rel=1e-5)
    assert float(got.min()) < 0  # rewards can be negative here (not a TabularGame)


def test_bins_nearest_centre_equals_equal_width():
    s = torch.linspace(-2, 2, 4001)
    equal_width = torch.clamp(torch.floor((s + 2.0) / 0.8), 0, 4).long()
    nearest = torch.argmin((s[:, None] - T(BIN_CENTRES)[None, :]).abs(), dim=1)
    inner = ((s + 2.0) / 0.8 - torch.round((s + 2.0) / 0.8)).abs() > 1e-4  # off the boundaries
    assert torch.equal(bin_index(s)[inner], equal_width[inner])
    assert torch.equal(bin_index(s)[inner], nearest[inner])
    assert mode_bin(T([[0, 1, 1, 3, 3]])).item() == 1  # ties: lowest bin


def test_subsample_is_without_replacement():
    gen = torch.Generator().manual_seed(0)
    n, k, draws = 50, 10, 4000
    bins = torch.ones(draws, n, dtype=torch.long)
    bins[:, 0] = 0  # exactly one robot in bin 0
    hist = subsample_histogram(bins, k, torch.rand(draws, n, generator=gen))
    assert torch.allclose(hist.sum(1), torch.ones(draws))
    assert float(hist[:, 0].max()) <= 1 / k + 1e-7  # never drawn twice
    p = float((hist[:, 0] > 0).float().mean())  # P(robot 0 in the sample) = k/n
    assert p == pytest.approx(k / n, abs=4 * math.sqrt(0.2 * 0.8 / draws))
    full = subsample_histogram(bins[:2], n, torch.rand(2, n))
    assert full[0].tolist() == pytest.approx([1 / n, 1 - 1 / n, 0, 0, 0])


def test_initial_states_two_clusters():
    gen = torch.Generator().manual_seed(1)
    s_g, s_l = initial_states(W, 400, gen)
    assert s_l.shape == (400, 500) and float(s_g.abs().max()) <= 1.0
    assert float(s_l.abs().max()) <= 2.0
    n1 = 275  # round(0.55 * 500)
    c1 = s_l[:, :n1].median(dim=1).values
    c2 = s_l[:, n1:].median(dim=1).values
    tau = T(BIN_CENTRES)
    d1 = (c1[:, None] - tau).abs().min(1)
    d2 = (c2[:, None] - tau).abs().min(1)
    assert float(d1.values.max()) < 0.06 and float(d2.values.max()) < 0.06
    assert bool((d1.indices != d2.indices).all())  # two DISTINCT centres
    # each centre equally likely for the larger cluster: 400 draws, p = 1/5
    freq = torch.bincount(d1.indices, minlength=5).float() / 400
    assert float((freq - 0.2).abs().max()) < 0.08
    # within-cluster spread 0.18 (centre bins are not clipped)
    inner = d1.indices == 2
    assert float(s_l[inner, :n1].std(dim=1).mean()) == pytest.approx(0.18, rel=0.05)


def test_simulate_rewards_and_noise_consistent():
    w = ContinuousWarehouse(n=200, horizon=30)
    roll = simulate(w, UniformDispatcher(), UniformLocal(), 7, 20, 3, record=True)
    # stage reward = r_g + (1/n) sum_i r_l (eq. 1), discounted return = sum_t gamma^t r_t
    rg = torch.stack([global_reward(w, roll.s_g[t], roll.global_actions[t]) for t in range(30)])
    stage = rg + roll.local_rewards.mean(-1)
    assert torch.allclose(stage, roll.stage_rewards, atol=1e-5)
    disc = w.gamma ** torch.arange(30, dtype=torch.float32)
    assert torch.allclose((disc[:, None] * stage).sum(0), roll.returns, rtol=1e-5)
    # recorded local rewards follow the formula on the recorded states and actions
    rl = local_reward(w, roll.s_l[5], roll.s_g[5], roll.actions[5])
    assert torch.allclose(rl, roll.local_rewards[5])
    # transition noise: residuals of unclipped moves have std 0.04 (robots), 0.08 (dispatcher)
    delta = T([0.0, 0.05, -0.05])
    res = roll.s_l[1:] - roll.s_l[:-1] - delta[roll.actions[:-1]]
    free = roll.s_l[1:].abs() < 1.99
    assert float(res[free].std()) == pytest.approx(0.04, rel=0.03)
    assert abs(float(res[free].mean())) < 0.002
    tau = T(BIN_CENTRES)
    res_g = roll.s_g[1:] - roll.s_g[:-1] - 0.6 * (tau[roll.global_actions[:-1]] - roll.s_g[:-1])
    assert float(res_g[roll.s_g[1:].abs() < 1.99].std()) == pytest.approx(0.08, rel=0.1)


def test_simulate_same_seed_same_output_and_crn():
    w = ContinuousWarehouse(n=100, horizon=20)
    pol = LocalPolicyNet()
    a = simulate(w, UniformDispatcher(), SampledLocal(pol), 5, 4, 11)
    b = simulate(w, UniformDispatcher(), SampledLocal(pol), 5, 4, 11)
    assert torch.equal(a.returns, b.returns)
    with pytest.raises(AltmarlError, match="k = 101"):
        simulate(w, UniformDispatcher(), UniformLocal(), 101, 1, 0)


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


# ---------------------------------------------------------------------------- TRPO


def _trpo_batch(seed: int):
    gen = torch.Generator().manual_seed(seed)
    obs = torch.rand(6000, 2, generator=gen) * 4 - 2
    actions = torch.randint(0, 3, (6000,), generator=gen)
    # advantage favours moving toward s_g: a learnable signal
    toward = torch.where(obs[:, 0] > obs[:, 1], 1, 2)
    adv = (actions == toward).float() - 0.4 + 0.1 * torch.randn(6000, generator=gen)
    return obs, actions, (adv - adv.mean()) / adv.std()


def _kl(policy, ref, obs):
    with torch.no_grad():
        return float(
            categorical_kl(torch.log_softmax(ref(obs), -1), torch.log_softmax(policy(obs), -1))
        )


def test_trpo_accepted_step_respects_kl_radius_and_improves():
    torch.manual_seed(0)
    obs, actions, adv = _trpo_batch(0)
    for radius in (0.01, 0.05):
        policy = LocalPolicyNet()
        ref = LocalPolicyNet()
        ref.load_state_dict(policy.state_dict())
        info = trpo_step(policy, obs, actions, adv, TRPOConfig(max_kl=radius))
        assert info.accepted and info.improvement > 0
        kl = _kl(policy, ref, obs)
        assert kl == pytest.approx(info.kl, rel=1e-4)
        assert kl <= 1.5 * radius
        assert kl > 0.1 * radius  # a real step, not a no-op


def test_trpo_rejected_line_search_leaves_parameters_unchanged():
    torch.manual_seed(1)
    obs, actions, adv = _trpo_batch(1)
    policy = LocalPolicyNet()
    before = flat_params(policy).clone()
    # no step can satisfy KL <= 1e-12 * radius: every trial fails, the update is undone
    info = trpo_step(policy, obs, actions, adv, TRPOConfig(kl_accept_factor=1e-12))
    assert not info.accepted and info.trials == 10 and info.step_fraction == 0.0
    assert torch.equal(flat_params(policy), before)
    # zero advantages: no improving direction at all
    info = trpo_step(policy, obs, actions, torch.zeros(6000))
    assert not info.accepted and torch.equal(flat_params(policy), before)


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_ablation_updates_raise_the_surrogate(algo):
    from altmarl.continuous.local_learn import LocalLearnConfig, _a2c, _ppo

    torch.manual_seed(2)
    obs, actions, adv = _trpo_batch(2)
    policy = LocalPolicyNet()

    def surrogate() -> float:
        with torch.no_grad():
            p = torch.softmax(policy(obs), -1).gather(1, actions[:, None]).squeeze(1)
            return float((p * adv).mean())

    before = surrogate()
    cfg = LocalLearnConfig(algo=algo, ppo_batch=1000)
    if algo == "ppo":
        _ppo(policy, obs, actions, adv, cfg, torch.Generator().manual_seed(0))
    else:
        _a2c(policy, obs, actions, adv, cfg, torch.optim.Adam(policy.parameters(), lr=3e-3))
    assert surrogate() > before


# ---------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def short_runs(tmp_path_factory):
    """Short training runs (6 alternations, full horizon) at k = 1 and k = 50, seed 0."""
    from altmarl.continuous.training import ContinuousConfig, train_continuous

    out = {}
    for k in (1, 50):
        cfg = ContinuousConfig(k=k, seed=0, alternations=6, eval_episodes=4, final_rollouts=30)
        run_dir = tmp_path_factory.mktemp(f"run{k}")
        out[k] = (train_continuous(cfg, out_dir=run_dir), run_dir)
    return out


@pytest.mark.slow
def test_short_training_beats_uniform_and_the_robots_follow_the_dispatcher(short_runs):
    (big, _), (one, _) = short_runs[50], short_runs[1]
    # Property: the uniform dispatcher picks each of the 5 bins with probability 1/5,
    # independently of the mode, so its accuracy over 30 rollouts x 100 steps is a mean
    # of 3000 Bernoulli(0.2): standard error 0.0073, 0.03 is 4.1 of them
    # (false-failure rate ~4e-5).
    assert big.baseline_mode_accuracy == pytest.approx(0.2, abs=0.03)
    # Regressions: seeded outcomes of one short training run per k, not guarantees. The
    # trained pairs earn well over the uniform baseline (30 rollouts: standard error below
    # 6), and the robots walk to where the dispatcher points, so the population's mode is
    # the dispatcher's bin most of the time, whether it reads its sample or not.
    for run in (big, one):
        assert run.value > 2.5 * run.baseline_value
        assert run.mode_accuracy > 0.75


@pytest.mark.slow
def test_saved_run_re_evaluates_to_the_same_value(short_runs):
    from altmarl.continuous.training import evaluate_continuous_run

    res, run_dir = short_runs[50]
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["value"] == pytest.approx(res.value)
    # same episodes (seed = the run's seed), same networks: the same numbers
    ev = evaluate_continuous_run(run_dir, rollouts=res.config.final_rollouts, seed=0)
    assert ev["value"] == pytest.approx(res.value, rel=1e-6)
    assert ev["mode_accuracy"] == pytest.approx(res.mode_accuracy)
    assert ev["baseline_value"] == pytest.approx(res.baseline_value, rel=1e-6)
    with pytest.raises(AltmarlError, match="k = 501"):
        evaluate_continuous_run(run_dir, k=501)


def test_same_seed_same_networks():
    from altmarl.continuous.local_learn import LocalLearnConfig
    from altmarl.continuous.training import ContinuousConfig, train_continuous

    cfg = ContinuousConfig(k=3, n=60, horizon=15, alternations=2, eval_episodes=2)
    a, b = train_continuous(cfg), train_continuous(cfg)
    assert torch.equal(flat_params(a.local_policy), flat_params(b.local_policy))
    assert torch.equal(flat_params(a.dispatcher), flat_params(b.dispatcher))
    assert a.value == b.value
    with pytest.raises(AltmarlError, match="local algo"):
        LocalLearnConfig(algo="sac")


# ---------------------------------------------------------------------------- CLI


@pytest.mark.slow
def test_cli_reproduce_continuous_end_to_end(cli, tmp_path):
    out = tmp_path / "study"
    # --local-algo ppo: the default (TRPO) is trained by the library-level tests above
    small = ["--k-values", "1,4", "--seeds", "1", "--alternations", "1", "--horizon", "10",
             "--rollouts", "2", "--n", "40", "--eval-episodes", "2", "--workers", "1",
             "--local-algo", "ppo"]  # fmt: skip
    code, stdout, err = cli("reproduce", "continuous", *small, "--out", str(out), "--json")
    assert code == 0, err
    # --local-algo reaches the protocol and every job's training config
    assert json.loads((out / "study.json").read_text())["local_algo"] == "ppo"
    for k in (1, 4):
        config = json.loads((out / "runs" / f"k{k}_seed0" / "config.json").read_text())
        assert config["local"]["algo"] == "ppo"
    assert "local algorithm ppo" in (out / "summary.md").read_text()
    files = set(json.loads(stdout)["files"])
    for name in (
        "reward_vs_k_continuous",
        "mode_accuracy_vs_k",
        "runtime_vs_k_continuous",
        "zone_heatmap_continuous",
    ):
        assert {f"{name}.png", f"{name}.csv"} <= files
    assert {"summary.md", "results.csv"} <= files
    for k in (1, 4):
        run = out / "runs" / f"k{k}_seed0"
        assert {p.name for p in run.iterdir()} >= {
            "config.json",
            "dispatcher.pt",
            "local_policy.pt",
        }
    # resume: nothing left to do, the sweep and the figures are rebuilt from results.csv
    code, _, err = cli("reproduce", "continuous", *small, "--out", str(out), "--resume")
    assert code == 0, err
    # bad input: exit 2, one line naming the argument
    code, _, err = cli("reproduce", "continuous", "--k-values", "1,41", "--n", "40",
                       "--out", str(tmp_path / "bad"))  # fmt: skip
    assert code == 2 and "--k-values" in err and len(err.strip().splitlines()) == 1

    # the evaluate hook on the saved run
    from altmarl.cli.evaluate_continuous import add_arguments, run_continuous

    parser = argparse.ArgumentParser()
    add_arguments(parser, shared=False)
    args = parser.parse_args(
        ["--continuous-run", str(out / "runs" / "k4_seed0"), "--rollouts", "3"]
    )
    assert run_continuous(args) == 0
    # ... and through `altmarl evaluate`
    code, stdout, err = cli(
        "evaluate",
        "--continuous-run",
        str(out / "runs" / "k4_seed0"),
        "--rollouts",
        "3",
        "--json",
    )
    assert code == 0, err
    ev = json.loads(stdout)
    # --n, --k and --horizon default to the run's own (it was trained at horizon 10)
    assert ev["k"] == 4 and ev["n"] == 40 and ev["horizon"] == 10 and np.isfinite(ev["value"])
    code, _, err = cli("evaluate", "--continuous-run", str(tmp_path / "none"))
    assert code == 2 and "no such directory" in err


@pytest.mark.slow
def test_local_and_ray_backends_agree_on_the_continuous_study(tmp_path):
    pytest.importorskip("ray")
    from altmarl.experiments.continuous_study import ContinuousStudy, run_study
    from altmarl.experiments.sweep import read_results

    study = ContinuousStudy(
        k_values=(1, 4),
        seeds=1,
        alternations=1,
        horizon=10,
        rollouts=2,
        n=40,
        eval_episodes=2,
    )
    rows = {}
    for backend in ("local", "ray"):
        run_study(study, tmp_path / backend, backend=backend, workers=2, figures=False)
        rows[backend] = {
            (r["k"], r["seed"]): {k: v for k, v in r.items() if "seconds" not in k}
            for r in read_results(tmp_path / backend / "results.csv")
        }
    assert len(rows["local"]) == 2 and rows["local"] == rows["ray"]
