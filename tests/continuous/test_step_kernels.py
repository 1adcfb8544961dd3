"""The jitted rollout step (``continuous/step_kernels.py``) against the torch kernels of
``continuous/env.py``, bit for bit, and the whole online execution against a reference
loop written from those kernels alone."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from altmarl.continuous import rollout, step_kernels  # noqa: E402
from altmarl.continuous.env import (  # noqa: E402
    NUM_BINS,
    ContinuousWarehouse,
    bin_index,
    delta,
    dispatcher_observation,
    global_reward,
    global_step,
    initial_states,
    local_reward,
    local_step,
    mode_bin,
    robot_observation,
    subsample_histogram,
    tau,
)
from altmarl.continuous.networks import DispatcherNet, LocalPolicyNet  # noqa: E402
from altmarl.continuous.rollout import (  # noqa: E402
    ConstantDispatcher,
    GreedyDispatcher,
    GreedyLocal,
    SampledLocal,
    UniformDispatcher,
    UniformLocal,
    simulate,
    simulate_dispatchers,
)
from continuous_helpers import _randomised  # noqa: E402

F32 = np.float32


def _states(gen: torch.Generator, R: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    s_g = torch.rand(R, generator=gen) * 4.4 - 2.2
    s_l = torch.rand(R, n, generator=gen) * 4.4 - 2.2
    # exact bin boundaries and walls, where rounding decides the bin
    edges = torch.tensor([-2.0, -1.2, -0.4, 0.4, 1.2, 2.0])
    s_l[:, : len(edges)] = edges
    return torch.clamp(s_g, -2, 2), torch.clamp(s_l, -2, 2)


def _observe(w, s_g, s_l, keys, u_l, k, same):
    R, n = s_l.shape
    out = dict(
        obs_g=np.empty((R, NUM_BINS + 1), F32),
        modes=np.empty(R, np.int64),
        arg_l=np.empty((R, n), F32),
        robot_obs=np.empty((R, n, 2), F32),
        robot_u=np.empty((R, n), F32),
        rows=np.empty(R, np.int64),
    )
    m, tie = step_kernels.observe(
        s_g.numpy(), s_l.numpy(), keys.numpy(), u_l.numpy(), k, same,
        F32(2.0 * w.rl_width**2), *out.values(),
    )  # fmt: skip
    return m, tie, out


@pytest.mark.parametrize(
    ("n", "k", "E", "copies"), [(500, 10, 4, 3), (37, 1, 2, 2), (37, 37, 3, 1)]
)
def test_observe_matches_the_torch_kernels(n, k, E, copies):
    w = ContinuousWarehouse(n=n)
    gen = torch.Generator().manual_seed(n + k)
    R = E * copies
    s_g, s_l = _states(gen, R, n)
    keys, u_l = torch.rand(E, n, generator=gen), torch.rand(E, n, generator=gen)
    same = np.random.default_rng(0).random(R) < 0.5
    m, tie, out = _observe(w, s_g, s_l, keys, u_l, k, same)
    assert not tie
    keys_r, u_r = keys.repeat(copies, 1), u_l.repeat(copies, 1)
    hist = subsample_histogram(bin_index(s_l), k, keys_r)
    assert torch.equal(torch.from_numpy(out["obs_g"]), dispatcher_observation(s_g, hist))
    assert torch.equal(torch.from_numpy(out["modes"]), mode_bin(bin_index(s_l)))
    d = s_l - s_g[:, None]
    assert torch.equal(torch.from_numpy(out["arg_l"]), -(d * d) / (2.0 * w.rl_width**2))
    # the robot network's rows: copy 0, then every row that left its copy-0 row's state
    rows = [r for r in range(R) if r < E or not same[r]]
    assert m == len(rows) and list(out["rows"][:m]) == rows
    assert torch.equal(torch.from_numpy(out["robot_obs"][:m]), robot_observation(s_g, s_l)[rows])
    assert torch.equal(torch.from_numpy(out["robot_u"][:m]), u_r[rows])


def test_observe_reports_a_tie_at_the_kth_key():
    w = ContinuousWarehouse(n=20)
    gen = torch.Generator().manual_seed(1)
    s_g, s_l = _states(gen, 2, 20)
    keys = torch.rand(2, 20, generator=gen)
    same = np.ones(2, dtype=bool)
    order = torch.argsort(keys[1])
    k = 5
    assert not _observe(w, s_g, s_l, keys, keys, k, same)[1]
    keys[1, order[k]] = keys[1, order[k - 1]]  # the 5th and 6th smallest now coincide
    assert _observe(w, s_g, s_l, keys, keys, k, same)[1]
    # a tie below the k-th key leaves the set determined
    keys = torch.rand(2, 20, generator=gen)
    order = torch.argsort(keys[0])
    keys[0, order[1]] = keys[0, order[0]]
    assert not _observe(w, s_g, s_l, keys, keys, k, same)[1]


def test_finish_matches_the_torch_kernels():
    w = ContinuousWarehouse(n=50)
    gen = torch.Generator().manual_seed(3)
    E, copies, n = 3, 2, 50
    R = E * copies
    s_g, s_l = _states(gen, R, n)
    a_g = torch.randint(0, NUM_BINS, (R,), generator=gen)
    a_g[E:] = a_g[:E]
    a_g[E + 1] = (a_g[1] + 1) % NUM_BINS  # copy 1 of episode 1 leaves copy 0
    same = np.array([True] * R)
    same[E + 2] = False  # an earlier departure: episode 2's copy 1 acts on its own
    rows = np.array([0, 1, 2, E + 2])
    s_l[E + 0], s_l[E + 1], s_g[E + 0], s_g[E + 1] = s_l[0], s_l[1], s_g[0], s_g[1]
    acted = torch.randint(0, 3, (len(rows), n), generator=gen)
    z_g, z_l = torch.randn(E, generator=gen) * 3, torch.randn(E, n, generator=gen) * 3
    d = s_l - s_g[:, None]
    bonus = torch.exp(-(d * d) / (2.0 * w.rl_width**2))
    params = np.array(
        [w.rl_scale, w.move_cost, w.steer, w.global_noise, w.local_noise, w.low, w.high,
         2.0 * w.rg_width**2], F32,
    )  # fmt: skip
    a_l, r_l = np.empty((R, n), np.int64), np.empty((R, n), F32)
    arg_g, s_g2, s_l2 = np.empty(R, F32), np.empty(R, F32), np.empty((R, n), F32)
    step_kernels.finish(
        s_g.numpy(), s_l.numpy(), a_g.numpy(), acted.numpy(), rows, bonus.numpy(), z_g.numpy(),
        z_l.numpy(), tau().numpy(), delta().numpy(), params, same, a_l, r_l, arg_g, s_g2, s_l2,
    )  # fmt: skip
    expect = torch.cat([acted[:3], acted[:2], acted[3:]])  # rows E, E+1 act as rows 0, 1
    assert torch.equal(torch.from_numpy(a_l), expect)
    assert torch.equal(torch.from_numpy(r_l), local_reward(w, s_l, s_g, expect))
    rg = w.rg_scale * torch.exp(torch.from_numpy(arg_g))
    assert torch.equal(rg, global_reward(w, s_g, a_g))
    zg, zl = z_g.repeat(copies), z_l.repeat(copies, 1)
    assert torch.equal(torch.from_numpy(s_g2), global_step(w, s_g, a_g, zg))
    assert torch.equal(torch.from_numpy(s_l2), local_step(w, s_l, expect, zl))
    assert list(same) == [True, True, True, True, False, False]


def test_inverse_cdf_counts_the_bounds_below_u():
    gen = torch.Generator().manual_seed(4)
    p = torch.softmax(torch.randn(3, 5000, generator=gen) * 3, dim=0)
    u = torch.rand(5000, generator=gen)
    u[:3] = torch.stack([p[0, 0], p[0, 1] + p[1, 1], torch.tensor(0.999999)])  # on the bounds
    out = np.empty(5000, np.int64)
    step_kernels.inverse_cdf(p.numpy(), u.numpy(), out)
    bound1, bound2 = p[0], p[0] + p[1]
    expect = (u > bound1).long() + (u > bound2).long()
    assert torch.equal(torch.from_numpy(out), expect)
    assert out[0] == 0 and out[1] == 1  # u equal to a bound stays below it


def _reference(w, dispatcher, local, k, E, seed, copies=1):
    """Online execution (SPEC §6) from ``env``'s torch kernels alone, every row stepped."""
    gen = torch.Generator().manual_seed(seed)

    def draw(x):
        return x.repeat(copies, *([1] * (x.dim() - 1)))

    s_g, s_l = (draw(x) for x in initial_states(w, E, gen))
    returns, discount, actions = torch.zeros(E * copies), 1.0, []
    for _ in range(w.horizon):
        u_sub, u_g = draw(torch.rand(E, w.n, generator=gen)), draw(torch.rand(E, generator=gen))
        u_l = draw(torch.rand(E, w.n, generator=gen))
        z_g, z_l = draw(torch.randn(E, generator=gen)), draw(torch.randn(E, w.n, generator=gen))
        bins = bin_index(s_l)
        obs = dispatcher_observation(s_g, subsample_histogram(bins, k, u_sub))
        a_g = dispatcher.act(obs, u_g)
        a_l = local.act(robot_observation(s_g, s_l), u_l)
        r = global_reward(w, s_g, a_g) + local_reward(w, s_l, s_g, a_l).mean(dim=1)
        returns += discount * r
        discount *= w.gamma
        actions.append(a_g)
        s_g, s_l = global_step(w, s_g, a_g, z_g), local_step(w, s_l, a_l, z_l)
    return returns, torch.stack(actions)


@pytest.mark.parametrize("k", [1, 7, 60])
def test_online_execution_is_the_reference_loop_bit_for_bit(k):
    w = ContinuousWarehouse(n=60, horizon=25)
    robots = SampledLocal(_randomised(LocalPolicyNet(), 5))
    d = GreedyDispatcher(_randomised(DispatcherNet(), 6))
    with torch.inference_mode():
        ref_returns, ref_actions = _reference(w, d, robots, k, 5, 11)
    roll = simulate(w, d, robots, k, 5, 11)
    assert torch.equal(roll.returns, ref_returns)
    assert torch.equal(roll.global_actions, ref_actions)
    for local in (GreedyLocal(robots.net), UniformLocal()):
        with torch.inference_mode():
            ref_returns, _ = _reference(w, UniformDispatcher(), local, k, 5, 12)
        assert torch.equal(simulate(w, UniformDispatcher(), local, k, 5, 12).returns, ref_returns)


def test_compared_dispatchers_are_the_reference_loop_bit_for_bit():
    # copies that agree for a while, then part: the robot network skips the rows still in
    # copy 0's state, and the result is the loop that steps every row
    w = ContinuousWarehouse(n=60, horizon=25)
    robots = SampledLocal(_randomised(LocalPolicyNet(), 5))
    first = _randomised(DispatcherNet(), 6)
    actors = [GreedyDispatcher(first), GreedyDispatcher(first), ConstantDispatcher(2)]
    rolls = simulate_dispatchers(w, actors, robots, 7, 4, 13)
    for actor, roll in zip(actors, rolls, strict=True):
        with torch.inference_mode():
            ref_returns, ref_actions = _reference(w, actor, robots, 7, 4, 13)
        assert torch.equal(roll.returns, ref_returns)
        assert torch.equal(roll.global_actions, ref_actions)


def test_a_tied_subsample_asks_torch_topk(monkeypatch):
    # the fallback path (the kernel reports a tie) gives the same episodes
    w = ContinuousWarehouse(n=60, horizon=10)
    robots = SampledLocal(_randomised(LocalPolicyNet(), 5))
    d = GreedyDispatcher(_randomised(DispatcherNet(), 6))
    plain = simulate(w, d, robots, 7, 4, 3, record=True)
    kernel = step_kernels.observe

    def tied(*args):
        obs_g = args[7]
        m, _ = kernel(*args)
        obs_g[:, 1:] = -1.0  # what the caller must overwrite
        return m, True

    monkeypatch.setattr(rollout.step_kernels, "observe", tied)
    again = simulate(w, d, robots, 7, 4, 3, record=True)
    assert torch.equal(plain.returns, again.returns)
    assert torch.equal(plain.dispatcher_obs, again.dispatcher_obs)
