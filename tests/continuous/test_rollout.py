"""Rollouts of the continuous warehouse (``continuous/rollout.py``): rewards and noise, seeds and
common random numbers, sampled robots."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")

from altmarl.continuous.env import (  # noqa: E402
    BIN_CENTRES,
    ContinuousWarehouse,
    global_reward,
    initial_states,
    local_reward,
)
from altmarl.continuous.global_response import commitment_values  # noqa: E402
from altmarl.continuous.networks import DispatcherNet, LocalPolicyNet  # noqa: E402
from altmarl.continuous.rollout import (  # noqa: E402
    ConstantDispatcher,
    GreedyDispatcher,
    SampledLocal,
    UniformDispatcher,
    UniformLocal,
    rollout_threads,
    simulate,
    simulate_dispatchers,
    torch_threads,
)
from altmarl.errors import AltmarlError  # noqa: E402
from continuous_helpers import _randomised  # noqa: E402

T = torch.tensor


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


def test_dispatchers_in_one_batch_run_as_each_alone():
    """simulate_dispatchers = one simulate per dispatcher on the same draws, even though its
    robots act only on the rows that have left copy 0's state: a constant dispatcher that
    the learned one often agrees with (a shared prefix), one it never does, and uniform."""
    w = ContinuousWarehouse(n=120, horizon=25)
    pol = _randomised(LocalPolicyNet(), 1)
    learned = GreedyDispatcher(_randomised(DispatcherNet(), 2))
    alone = simulate(w, learned, SampledLocal(pol), 6, 8, 5)
    first = int(torch.mode(alone.global_actions.reshape(-1)).values)
    others = [ConstantDispatcher(first), ConstantDispatcher((first + 2) % 5), UniformDispatcher()]
    batch = simulate_dispatchers(w, [learned, *others], SampledLocal(pol), 6, 8, 5)
    shared = (alone.global_actions == first).float().mean()
    assert 0.2 < float(shared) < 1.0, "the test needs a partly shared prefix"
    for actor, rolled in zip([learned, *others], batch, strict=True):
        single = simulate(w, actor, SampledLocal(pol), 6, 8, 5)
        assert torch.equal(rolled.global_actions, single.global_actions)
        assert torch.allclose(rolled.returns, single.returns, rtol=1e-6, atol=1e-5)


class _CountingThreads:
    """A robot actor that records torch's thread count each time it acts."""

    def __init__(self, inner: SampledLocal) -> None:
        self.inner = inner
        self.seen: list[int] = []

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        self.seen.append(torch.get_num_threads())
        return self.inner.act(obs, u)


def test_rollouts_give_the_same_bits_on_one_and_two_threads():
    """rollout_threads lends threads to the rollouts inside a run pinned to one thread,
    and changes their speed only: online execution (three dispatchers in one batch of
    3 x 40 x 500 = 60,000 robot rows, above torch's grain for splitting work) and the
    G step's commitment rollouts give the same bits on one and on two threads."""
    w = ContinuousWarehouse(n=500, horizon=12)
    pol = SampledLocal(_randomised(LocalPolicyNet(), 1))
    dispatchers = [GreedyDispatcher(_randomised(DispatcherNet(), 2)), ConstantDispatcher(1)]
    dispatchers.append(UniformDispatcher())
    s_g, s_l = initial_states(w, 30, torch.Generator().manual_seed(3))
    t = torch.arange(30) % 4
    out = {}
    for threads in (1, 2):
        robots = _CountingThreads(pol)
        with torch_threads(1), rollout_threads(threads):
            rolls = simulate_dispatchers(w, dispatchers, robots, 10, 40, 7)
            gen = torch.Generator().manual_seed(4)
            q = commitment_values(w, robots, s_g, s_l, t, robots=100, lookahead=8, generator=gen)
            assert torch.get_num_threads() == 1, "the caller's threads are restored"
        assert set(robots.seen) == {threads}
        out[threads] = (rolls, q)
    (one, q1), (two, q2) = out[1], out[2]
    assert torch.equal(q1, q2)
    for a, b in zip(one, two, strict=True):
        assert torch.equal(a.returns, b.returns)
        assert torch.equal(a.global_actions, b.global_actions)
        assert torch.equal(a.dispatcher_obs, b.dispatcher_obs)
