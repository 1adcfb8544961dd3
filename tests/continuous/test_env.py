"""The continuous warehouse (``continuous/env.py``, SPEC §7 G.2): transitions, rewards, bins,
subsamples and initial states against the SPEC's formulas."""

from __future__ import annotations

import math

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

W = ContinuousWarehouse()
T = torch.tensor


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
