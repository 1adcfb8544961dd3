"""The continuous G step as a best response in return (``continuous/global_response.py``):
commitment values by hand, the systematic robot sample, the advantage regression."""

from __future__ import annotations

import math

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
from altmarl.continuous.global_response import (  # noqa: E402
    AdvantageModel,
    ReturnResponseConfig,
    commitment_values,
    fit_advantages,
    sampled_observations,
)
from altmarl.continuous.networks import DispatcherNet  # noqa: E402
from altmarl.continuous.rollout import GreedyDispatcher  # noqa: E402
from altmarl.errors import AltmarlError  # noqa: E402

W = ContinuousWarehouse()


class Stay:
    """Robots that never move (a deterministic local actor)."""

    def act(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.zeros(obs.shape[:-1], dtype=torch.long)


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
