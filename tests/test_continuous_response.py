"""Continuous extension, issue #17 and the speed work of #14: the fast network forms, the
G step as a best response in return (commitment rollouts, advantage regression), UPDATE's
cached evaluator, the final evaluation with its reference dispatchers, the two protocols and
the thread pinning."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from altmarl.continuous.env import (  # noqa: E402
    BIN_CENTRES,
    NUM_BINS,
    ContinuousWarehouse,
    global_reward,
    initial_states,
    local_reward,
)
from altmarl.continuous.evaluation import (  # noqa: E402
    FINAL_STREAM,
    SELECT_STREAM,
    choose_constant,
    final_evaluation,
    get_protocol,
    initial_mode_accuracy,
)
from altmarl.continuous.global_response import (  # noqa: E402
    AdvantageModel,
    ReturnResponseConfig,
    commitment_values,
    fit_advantages,
    sampled_observations,
)
from altmarl.continuous.networks import (  # noqa: E402
    CriticNet,
    DispatcherNet,
    FoldedMLP,
    LocalPolicyNet,
    Tanh,
)
from altmarl.continuous.players import CachedRolloutEvaluator  # noqa: E402
from altmarl.continuous.rollout import (  # noqa: E402
    ConstantDispatcher,
    GreedyDispatcher,
    SampledLocal,
    simulate,
    torch_generator,
)
from altmarl.errors import AltmarlError  # noqa: E402

W = ContinuousWarehouse()


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _randomised(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """``net`` with O(1) random weights (a fresh net's output layer is nearly zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return net


class Stay:
    """Robots that never move (a deterministic local actor)."""

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.zeros(obs.shape[:-1], dtype=torch.long)


# ---------------------------------------------------------------------------- networks


def test_tanh_matches_torch_tanh_with_its_gradients():
    x = torch.linspace(-12, 12, 200001)
    assert float((Tanh()(x) - torch.tanh(x)).abs().max()) <= 2.5e-7
    xd = torch.randn(40, 7, dtype=torch.float64, requires_grad=True)
    y = Tanh()(xd)
    (grad,) = torch.autograd.grad(y.sum(), xd, create_graph=True)
    assert torch.allclose(grad, 1 - torch.tanh(xd) ** 2, atol=1e-12)
    # the backward is differentiable again (TRPO's Fisher-vector products need it)
    assert torch.autograd.gradgradcheck(Tanh(), (xd,))


@pytest.mark.parametrize("make", [LocalPolicyNet, CriticNet, DispatcherNet])
def test_folded_network_is_the_same_function(make):
    net = _randomised(make(), seed=3)
    inputs = torch.rand(4000, net.body[0].in_features) * 4 - 2
    folded = FoldedMLP.of(net.body)
    with torch.no_grad():
        expected = net.body(inputs)
    # the two forms differ by float rounding only (the outputs are O(10) here)
    assert float((folded(inputs) - expected).abs().max()) < 1e-4
    assert torch.allclose(folded.transposed(inputs), folded(inputs).t(), atol=1e-5)
    # a snapshot: later changes of the network do not reach it
    with torch.no_grad():
        net.body[0].bias.add_(1.0)
    assert float((folded(inputs) - expected).abs().max()) < 1e-4


def test_dispatcher_inference_form_reads_what_the_network_reads():
    for sees in (True, False):
        net = _randomised(DispatcherNet(sees_global_state=sees), seed=4)
        obs = torch.rand(300, 6)
        with torch.no_grad():
            assert float((net.inference()(obs) - net(obs)).abs().max()) < 1e-4


def test_dispatcher_without_global_state_ignores_it():
    net = _randomised(DispatcherNet(sees_global_state=False), seed=1)
    obs = torch.rand(50, 6)
    moved = obs.clone()
    moved[:, 0] = torch.rand(50) * 4 - 2
    assert torch.equal(net(obs), net(moved))
    assert net.body[0].in_features == 5


def test_sampled_robots_follow_the_policy_by_inverse_cdf():
    net = _randomised(LocalPolicyNet(), seed=5)
    obs = torch.tensor([[0.3, -0.7], [-1.5, 1.2], [0.0, 0.0]]).repeat(20000, 1)
    u = torch.rand(obs.shape[0], generator=torch.Generator().manual_seed(2))
    actions = SampledLocal(net).act(obs, u)
    with torch.no_grad():
        cdf = torch.cumsum(torch.softmax(net(obs), dim=-1), dim=-1)
    # the inverse CDF of the training network, except within rounding of a bound
    expected = torch.searchsorted(cdf, u[:, None]).squeeze(1).clamp(max=2)
    near = (u[:, None] - cdf).abs().min(dim=1).values < 1e-5
    assert torch.equal(actions[~near], expected[~near])
    assert int(near.sum()) < 10


# ---------------------------------------------------------------------------- G step


def test_commitment_values_by_hand_one_step_before_the_horizon():
    # t = H - 1: one step is left, so Q(s, a) = r_g(s_g, a) + mean_i r_l(s_i, s_g, stay)
    s_g = torch.tensor([0.3, -1.1])
    s_l = torch.tensor([[0.5] * 40, [-1.6] * 40])
    t = torch.tensor([W.horizon - 1, W.horizon - 1])
    q = commitment_values(
        W, Stay(), s_g, s_l, t, robots=8, lookahead=30, generator=torch.Generator().manual_seed(0)
    )
    for i in range(2):
        for a in range(NUM_BINS):
            d_g = float(s_g[i]) - BIN_CENTRES[a]
            d_l = float(s_l[i, 0]) - float(s_g[i])
            expected = 5 * math.exp(-(d_g**2) / 0.18) + 10 * math.exp(-(d_l**2) / 0.08)
            assert float(q[i, a]) == pytest.approx(expected, rel=1e-5)


def test_commitment_values_discount_a_fixed_path():
    # a robot at the target and s_g already there: with noise switched off the state never
    # moves, so Q(s, a*) = (r_g + r_l) (1 - gamma^L) / (1 - gamma) for L steps
    quiet = ContinuousWarehouse(global_noise=0.0, local_noise=0.0)
    s_g = torch.tensor([0.8])
    s_l = torch.full((1, 30), 0.8)
    for L, t in ((12, 0), (12, quiet.horizon - 5)):
        q = commitment_values(
            quiet, Stay(), s_g, s_l, torch.tensor([t]), robots=4, lookahead=L,
            generator=torch.Generator().manual_seed(1),
        )  # fmt: skip
        steps = min(L, quiet.horizon - t)
        expected = 15.0 * (1 - quiet.gamma**steps) / (1 - quiet.gamma)
        assert float(q[0, 3]) == pytest.approx(expected, rel=1e-5)
        assert int(q[0].argmax()) == 3


def test_systematic_robot_sample_is_unbiased_for_the_population_mean():
    # one step: Q(s, a) - r_g(s_g, a) is the sampled robots' mean r_l; over the random offset
    # it averages to the population's mean (each robot is drawn with probability R / n)
    gen = torch.Generator().manual_seed(4)
    s_g, s_l = initial_states(W, 1, gen)
    t = torch.tensor([W.horizon - 1])
    r_g = float(global_reward(W, s_g, torch.tensor([0])))
    pop = float(local_reward(W, s_l, s_g, torch.zeros_like(s_l, dtype=torch.long)).mean())
    draws = torch.tensor(
        [
            float(
                commitment_values(W, Stay(), s_g, s_l, t, robots=7, lookahead=1, generator=gen)[
                    0, 0
                ]
            )
            - r_g
            for _ in range(3000)
        ]
    )
    # 3000 draws: the mean is within 5 standard errors of the truth (false failures ~6e-7)
    assert abs(float(draws.mean()) - pop) < 5 * float(draws.std()) / 3000**0.5
    assert float(draws.std()) > 0  # the offset does move the sample


def test_advantage_regression_learns_to_point_where_the_robots_are():
    # every robot in one bin, robots that never move: the best commitment is that bin, and
    # the regression must turn k-sample histograms into it (k = 1 suffices here)
    gen = torch.Generator().manual_seed(0)
    S = 96
    target = torch.randint(0, NUM_BINS, (S,), generator=gen)
    s_l = torch.tensor(BIN_CENTRES)[target][:, None] + 0.05 * torch.randn(S, 60, generator=gen)
    s_g = torch.rand(S, generator=gen) * 2 - 1
    q = commitment_values(W, Stay(), s_g, s_l, torch.zeros(S, dtype=torch.long), robots=8,
                          lookahead=20, generator=gen)  # fmt: skip
    assert torch.equal(q.argmax(dim=1), target)  # the rollouts see it
    config = ReturnResponseConfig(epochs=60)
    obs = sampled_observations(s_g, s_l, 1, 8, gen)
    adv = ((q - q.mean(dim=1, keepdim=True)) / 15.0).repeat_interleave(8, dim=0)
    model = AdvantageModel.starting_from(DispatcherNet(), config.lr)
    fit_advantages(model.net, model.optimiser, obs, adv, config, gen)
    test_target = torch.randint(0, NUM_BINS, (500,), generator=gen)
    test_l = torch.tensor(BIN_CENTRES)[test_target][:, None] + 0.05 * torch.randn(
        500, 60, generator=gen
    )
    test_obs = sampled_observations(torch.rand(500, generator=gen) * 2 - 1, test_l, 1, 1, gen)
    picked = GreedyDispatcher(model.net).act(test_obs, torch.zeros(500))
    assert float((picked == test_target).float().mean()) > 0.95


def test_return_response_config_is_validated():
    with pytest.raises(AltmarlError, match="lookahead"):
        ReturnResponseConfig(lookahead=0)
    with pytest.raises(AltmarlError, match="fresh_share"):
        ReturnResponseConfig(fresh_share=1.5)


# ---------------------------------------------------------------------------- UPDATE's evaluator


def _small():
    return ContinuousWarehouse(n=60, horizon=15)


def test_evaluator_caches_robot_comparisons_and_refreshes_dispatcher_comparisons():
    w = _small()
    policy = _randomised(LocalPolicyNet(), seed=2)
    policy2 = _randomised(LocalPolicyNet(), seed=12)
    d1 = _randomised(DispatcherNet(), seed=3)
    twin = DispatcherNet()
    twin.load_state_dict(d1.state_dict())
    other = _randomised(DispatcherNet(), seed=4)

    def run(d, p, gen):
        return simulate(w, GreedyDispatcher(d), SampledLocal(p), 5, 6, gen).returns

    ev = CachedRolloutEvaluator(k=5, episodes=6, seed=9, stream=11)
    first = ev.estimate(w, [(d1, policy)], seed=0)
    assert first[0].value == float(run(d1, policy, torch_generator(9, 11)).mean())
    assert ev.estimate(w, [(d1, policy)], seed=5) == first and ev.simulated == 1  # cached
    # robot comparison: the fixed episodes, the incumbent from the cache
    robots = ev.estimate(w, [(d1, policy), (d1, policy2)], seed=np.random.SeedSequence(7))
    assert ev.simulated == 2 and robots[0] == first[0]
    assert robots[1].value == float(run(d1, policy2, torch_generator(9, 11)).mean())
    # dispatcher comparison: fresh episodes from the step's seed, the incumbent simulated
    # again in one batch with the candidates, all on the same draws; a copy of the
    # incumbent's dispatcher runs the same episodes as the incumbent (gain exactly 0)
    step = np.random.SeedSequence([9, 3])
    fresh = run(d1, policy, torch_generator(step))
    again = ev.estimate(w, [(d1, policy), (twin, policy)], seed=step)
    assert ev.simulated == 4 and again[0] == again[1] and ev.gains[-1] == (0.0, 0.0)
    assert again[0].value == float(fresh.mean())
    assert again[0].value != first[0].value  # other episodes than the fixed set
    # ... the incumbent against itself (nothing proposed) is not simulated at all
    assert ev.estimate(w, [(d1, policy), (d1, policy)], seed=step) == [first[0]] * 2
    assert ev.simulated == 4
    # a dispatcher that acts differently: its gain is paired, episode by episode, and equals
    # what separate simulations on the same seed give
    new = ev.estimate(w, [(d1, policy), (other, policy)], seed=step)
    assert ev.simulated == 6
    ref = run(other, policy, torch_generator(step))
    diff = (ref - fresh).double()
    assert new[1].value == float(ref.mean())
    assert ev.gains[-1][0] == pytest.approx(float(diff.mean()), abs=1e-9)
    assert ev.gains[-1][1] == pytest.approx(float(diff.std()) / 6**0.5, abs=1e-9)


def test_update_asks_dispatchers_for_two_standard_errors_and_robots_for_more():
    from altmarl.alternating.evaluators import Estimate
    from altmarl.continuous.players import PairedKeepBetter

    ev = CachedRolloutEvaluator(k=1, episodes=4, seed=0, stream=0)
    rule = PairedKeepBetter(ev, z=2.0)
    old, new = Estimate(100.0, 5.0), Estimate(103.0, 5.0)
    ev.gains.append((3.0, 1.6))
    ev.last_fresh = True  # a dispatcher comparison: 3.0 < 2 x 1.6
    assert rule.decide(old, new) == "reject"
    ev.gains.append((3.0, 1.4))
    assert rule.decide(old, new) == "accept"
    ev.last_fresh = False  # robots on the fixed episodes: the larger value wins
    ev.gains.append((3.0, 10.0))
    assert rule.decide(old, new) == "accept"
    assert rule.decide(new, old) == "reject"


# ---------------------------------------------------------------------------- final evaluation


def test_initial_mode_accuracy_is_exact_with_the_whole_population():
    # k = n: the sample is the population, so pointing at its fullest bin names the mode
    w = ContinuousWarehouse(n=80)

    class FullestBin:
        def act(self, obs, u):
            return torch.argmax(obs[:, 1:], dim=1)

    gen = torch.Generator().manual_seed(0)
    assert initial_mode_accuracy(w, FullestBin(), 80, 2000, gen) == 1.0
    # k = 1: one robot, in the larger cluster with probability ~0.55 (Bayes rate 0.541 by
    # 10^5 simulated starts); 4000 starts: standard error 0.0079, 0.04 is 5 of them
    acc = initial_mode_accuracy(w, FullestBin(), 1, 4000, gen)
    assert acc == pytest.approx(0.54, abs=0.04)


def test_final_evaluation_margins_are_paired_on_the_same_episodes():
    w = _small()
    policy = _randomised(LocalPolicyNet(), seed=6)
    dispatcher = _randomised(DispatcherNet(), seed=7)
    ev = final_evaluation(w, dispatcher, policy, 5, rollouts=12, seed=3,
                          protocol=get_protocol("ours"), select_episodes=5)  # fmt: skip
    local = SampledLocal(policy)
    # the constant is chosen on the held-out stream ...
    held = [
        float(
            simulate(
                w, ConstantDispatcher(b), local, 5, 5, torch_generator(3, SELECT_STREAM)
            ).returns.mean()
        )
        for b in range(NUM_BINS)
    ]
    assert ev.best_constant_bin == int(np.argmax(held))
    assert choose_constant(w, local, 5, 5, 3) == (ev.best_constant_bin, held)
    # ... and evaluated with the pair on the final episodes, episode by episode
    trained = simulate(
        w, GreedyDispatcher(dispatcher), local, 5, 12, torch_generator(3, FINAL_STREAM)
    )
    const = simulate(
        w, ConstantDispatcher(ev.best_constant_bin), local, 5, 12, torch_generator(3, FINAL_STREAM)
    )
    diff = (trained.returns - const.returns).double()
    assert ev.value == float(trained.returns.mean())
    assert ev.best_constant_value == float(const.returns.mean())
    assert ev.margin == pytest.approx(float(diff.mean()), abs=1e-9)
    assert ev.margin_stderr == pytest.approx(float(diff.std()) / 12**0.5, abs=1e-9)
    low, high = ev.margin_interval
    assert high - low == pytest.approx(2 * 1.96 * ev.margin_stderr)
    assert ev.horizon == 15 and ev.protocol == "ours"


def test_paper_protocol_evaluates_at_horizon_50_with_greedy_robots():
    w = ContinuousWarehouse(n=60)
    policy = _randomised(LocalPolicyNet(), seed=8)
    dispatcher = _randomised(DispatcherNet(sees_global_state=False), seed=9)
    ev = final_evaluation(w, dispatcher, policy, 5, rollouts=4, seed=1,
                          protocol=get_protocol("paper"), select_episodes=2)  # fmt: skip
    assert ev.horizon == 50 and ev.protocol == "paper"

    class Greedy:
        def act(self, obs, u):
            with torch.no_grad():
                return torch.argmax(policy(obs), dim=-1)

    w50 = ContinuousWarehouse(n=60, horizon=50)
    ref = simulate(
        w50, GreedyDispatcher(dispatcher), Greedy(), 5, 4, torch_generator(1, FINAL_STREAM)
    )
    assert ev.value == pytest.approx(float(ref.returns.mean()), rel=1e-6)
    with pytest.raises(AltmarlError, match="protocol"):
        get_protocol("authors")


# ---------------------------------------------------------------------------- training runs


def _tiny(**kw):
    from altmarl.continuous.training import ContinuousConfig

    return ContinuousConfig(k=3, n=60, horizon=15, alternations=2, eval_episodes=2,
                            final_rollouts=4, select_episodes=2, **kw)  # fmt: skip


def test_a_run_pins_its_thread_count_and_restores_the_callers():
    from altmarl.continuous.training import train_continuous

    seen = []
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        res = train_continuous(
            _tiny(threads=1), progress=lambda row: seen.append(torch.get_num_threads())
        )
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
        assert res.config.to_json()["threads"] == 1
    finally:
        torch.set_num_threads(before)


def test_history_carries_update_s_paired_gains():
    from altmarl.continuous.training import best_global_gain, train_continuous

    res = train_continuous(_tiny())
    rows = res.history
    assert [r.player for r in rows] == ["global", "local", "global", "local"]
    for r in rows:
        # the gain UPDATE saw is the difference of the two values it compared
        gain, se = r.details["gain"], r.details["gain_stderr"]
        assert gain == pytest.approx(r.new_value - r.old_value, abs=1e-4)
        assert se >= 0
        # robots: keep the better; dispatchers: only ahead by two standard errors
        better = r.new_value > r.old_value and (r.player == "local" or gain > 2 * se)
        assert (r.decision == "accept") == better
    g = [r.details["gain"] for r in rows if r.player == "global"]
    assert best_global_gain(rows)[0] == max(g)
    s = res.summary()
    assert s["margin"] == pytest.approx(s["value"] - s["best_constant_value"], abs=1e-4)


def test_mode_classifier_initialisation_reads_the_sample():
    from altmarl.continuous.mode_classifier import fit_mode_classifier

    w = ContinuousWarehouse(n=60)
    net, info = fit_mode_classifier(DispatcherNet(), w, 60, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    # k = n: the histogram is the population's, so a classifier of its mode is nearly exact
    assert initial_mode_accuracy(w, GreedyDispatcher(net), 60, 1000, gen) > 0.9
    assert info["train_accuracy"] > 0.9


def test_legacy_run_config_loads(tmp_path):
    from altmarl.continuous.training import ContinuousConfig

    cfg = _tiny().to_json()
    # a run saved before the return step kept the mode classifier's settings here
    cfg["global_"] = {"samples": 3000, "lr": 0.003, "grad_clip": 1.0, "epochs": 10, "batch": 256}
    for key in ("protocol", "dispatcher_init", "select_episodes", "threads"):
        cfg.pop(key)
    loaded = ContinuousConfig.from_json(json.loads(json.dumps(cfg)))
    assert loaded.global_ == ReturnResponseConfig() and loaded.protocol == "ours"
    with pytest.raises(AltmarlError, match="dispatcher_init"):
        _tiny(dispatcher_init="classifier")
    with pytest.raises(AltmarlError, match="protocol"):
        _tiny(protocol="theirs")


# ---------------------------------------------------------------------------- the study


@pytest.mark.slow
def test_reproduce_continuous_paper_protocol_end_to_end(cli, tmp_path):
    out = tmp_path / "paper"
    small = ["--k-values", "1,4", "--seeds", "2", "--alternations", "1", "--horizon", "10",
             "--rollouts", "3", "--n", "40", "--eval-episodes", "2", "--workers", "1"]  # fmt: skip
    code, stdout, err = cli("reproduce", "continuous", *small, "--protocol", "paper",
                            "--out", str(out), "--json")  # fmt: skip
    assert code == 0, err
    study = json.loads((out / "study.json").read_text())
    # the paper's protocol starts from the authors' dispatcher, a mode classifier
    assert study["protocol"] == "paper" and study["dispatcher_init"] == "mode-classifier"
    config = json.loads((out / "runs" / "k4_seed0" / "config.json").read_text())
    assert config["protocol"] == "paper" and config["threads"] == 1
    res = json.loads((out / "runs" / "k4_seed0" / "result.json").read_text())
    assert res["horizon"] == 50 and res["protocol"] == "paper"
    assert res["margin"] == pytest.approx(res["value"] - res["best_constant_value"], abs=1e-4)
    files = set(json.loads(stdout)["files"])
    assert {"margin_vs_k_continuous.png", "margin_vs_k_continuous.csv"} <= files
    summary = (out / "summary.md").read_text()
    assert "paper return" in summary and "127.7" in summary  # the paper's k = 1 return
    # the margin table: one row per k, runs above and runs sure counted out of 2 seeds
    with (out / "margin_vs_k_continuous.csv").open() as fh:
        header, *rows = [line.strip().split(",") for line in fh]
    assert header[0] == "k" and [r[0] for r in rows] == ["1", "4"]
    assert all(0 <= int(r[header.index("runs_above_constant")]) <= 2 for r in rows)
    # a protocol that does not exist: exit 2, one line naming the argument
    code, _, err = cli("reproduce", "continuous", *small, "--protocol", "authors",
                       "--out", str(tmp_path / "bad"))  # fmt: skip
    assert code == 2 and "--protocol" in err and len(err.strip().splitlines()) == 1
