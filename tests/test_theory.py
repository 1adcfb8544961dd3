from __future__ import annotations

import itertools
import math

import pytest

from altmarl.errors import AltmarlError
from altmarl.theory import (
    bellman_noise_bound,
    best_response_gap,
    count_space_size,
    greedy_loss,
    q_table_size,
    sample_size,
    subsampling_gap,
)


def test_table_sizes_match_closed_forms():
    # |C_30| over 5 states = binom(34, 4) = 46376 (SPEC §2 warehouse numbers)
    assert count_space_size(30, 5) == 46376
    assert count_space_size(50, 5) == 316251
    assert q_table_size(30, 5, 5, 5) == 5 * 5 * 46376
    assert q_table_size(3, 2, 4, 5, "standard") == 2 * 4 * 125
    # the standard table is exact even beyond float range
    assert q_table_size(200, 1, 1, 5, "standard") == 5**200
    with pytest.raises(AltmarlError, match="parameterization"):
        q_table_size(3, 2, 2, 2, "tuple")


def test_bellman_noise_bound_hand_computed():
    # 0.5 * 1 * sqrt(ln(2*5/0.1) / 200) / 0.5**2 = 2 sqrt(ln(100)/200)
    want = 2 * math.sqrt(math.log(100) / 200)
    got = bellman_noise_bound(100, 0.1, gamma=0.5, r_max=1.0, table_entries=5)
    assert got == pytest.approx(want, rel=1e-12)
    assert want == pytest.approx(0.30348, abs=1e-5)


@pytest.mark.parametrize("eps", [0.01, 0.3, 2.0])
@pytest.mark.parametrize("Z", [12, 10**6, 5**40])
def test_sample_size_is_the_smallest_m_meeting_eps(eps, Z):
    kw = {"gamma": 0.9, "r_max": 3.0, "table_entries": Z}
    m = sample_size(eps, 0.05, **kw)
    assert bellman_noise_bound(m, 0.05, **kw) <= eps
    if m > 1:
        assert bellman_noise_bound(m - 1, 0.05, **kw) > eps


def test_subsampling_gap_decays_like_inverse_sqrt_k():
    kw = {"gamma": 0.95, "r_max": 11.5, "num_local_states": 5, "num_global_actions": 5}
    n = 10**9
    gaps = [subsampling_gap(k, n, **kw) for k in (10, 40, 160, 640)]
    assert all(a > b for a, b in itertools.pairwise(gaps))
    # quadrupling k halves the gap up to the slowly growing log factor
    for a, b in itertools.pairwise(gaps):
        assert 0.45 < b / a < 0.62
    # hand value: k = n = 4 leaves the failure term plus sqrt(1/32 * ln(2*2*2*2))
    got = subsampling_gap(4, 4, gamma=0.5, r_max=1.0, num_local_states=2, num_global_actions=2)
    want = 2 / 0.25 * (math.sqrt(1 / 32 * math.log(16)) + 0.5)
    assert got == pytest.approx(want, rel=1e-12)


def test_best_response_gap_adds_greedy_loss():
    kw = {"gamma": 0.9, "r_max": 2.0, "num_local_states": 3, "num_global_actions": 2}
    base = best_response_gap(5, 50, **kw)
    assert best_response_gap(5, 50, q_error=0.1, **kw) == pytest.approx(base + 2 * 0.1 / 0.1)
    assert greedy_loss(0.5, gamma=0.75) == pytest.approx(4.0)


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: bellman_noise_bound(0, 0.1, gamma=0.9, r_max=1, table_entries=3), "m = 0"),
        (lambda: bellman_noise_bound(5, 1.5, gamma=0.9, r_max=1, table_entries=3), "delta"),
        (lambda: sample_size(0.1, 0.1, gamma=1.0, r_max=1, table_entries=3), "gamma"),
        (lambda: sample_size(-1, 0.1, gamma=0.9, r_max=1, table_entries=3), "eps"),
        (
            lambda: subsampling_gap(
                5, 3, gamma=0.9, r_max=1, num_local_states=2, num_global_actions=2
            ),
            "k = 5 must be <= n = 3",
        ),
    ],
)
def test_bad_arguments_are_named(call, needle):
    with pytest.raises(AltmarlError, match=needle):
        call()
