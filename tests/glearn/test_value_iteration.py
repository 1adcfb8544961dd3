"""Value iteration (``glearn/value_iteration.py``): the sweep kernel, float32 and mixed
precision, the stopping rules' certified bounds, Anderson off, the greedy policy (eq. 20)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.glearn import empirical_adapted_bellman, greedy_policy, value_iteration
from altmarl.glearn.operator import tiled_order
from altmarl.glearn.value_iteration import _Sweeper, max_over_actions
from glearn_helpers import tiny


@pytest.mark.parametrize("num_global_states", [1, 2, 5, 8, 9, 11])
def test_sweep_kernel_matches_reference_apply(num_global_states):
    # the kernel sums the first eight global states in registers and any further ones in
    # blocks of eight: 8, 9 and 11 are the edges of that split
    game, local = tiny(5, S_g=num_global_states, A_g=3)
    op = empirical_adapted_bellman(game, local, 4, 17, seed=1)
    rng = np.random.default_rng(0)
    q_in = rng.uniform(0, 3, op.shape)
    q = q_in.copy()
    vt = np.ascontiguousarray(q.max(axis=-1).T)
    out = np.empty_like(vt)
    q_lo, q_hi, v_lo, v_hi = _Sweeper(op, q)(vt, out)
    ref = op.apply(q_in)
    np.testing.assert_allclose(q, ref, atol=1e-12)
    np.testing.assert_allclose(out, ref.max(axis=-1).T, atol=1e-12)
    assert q_lo == pytest.approx((ref - q_in).min()) and q_hi == pytest.approx((ref - q_in).max())
    d = ref.max(axis=-1).T - vt
    assert v_lo == pytest.approx(d.min()) and v_hi == pytest.approx(d.max())
    # without write_q the same G(V) comes out and Q is left alone
    q2 = q_in.copy()
    out2 = np.empty_like(vt)
    _, _, v_lo2, v_hi2 = _Sweeper(op, q2)(vt, out2, write_q=False)
    np.testing.assert_array_equal(q2, q_in)
    np.testing.assert_array_equal(out2, out)
    assert (v_lo2, v_hi2) == (v_lo, v_hi)
    # visiting count space tile by tile changes nothing but the order of the work
    order = tiled_order(op.space.all(), tile=1)
    assert not np.array_equal(order, np.arange(order.size))
    tiled = dataclasses.replace(op, sweep_order=order)
    out3 = np.empty_like(vt)
    assert _Sweeper(tiled, q_in.copy())(vt, out3, write_q=False)[2:] == (v_lo, v_hi)
    np.testing.assert_array_equal(out3, out)


def test_float32_sweep_is_exact_for_the_rounded_iterate():
    """A float32 sweep gathers V - offset rounded to float32 (offset: the midrange of V),
    overwrites V by that rounded iterate, and returns G of it, with G(V) - V measured on
    it: exactly what the span rule's certificate needs (it holds for any V)."""
    game, local = tiny(5, S_g=3, A_g=3)
    op = empirical_adapted_bellman(game, local, 4, 17, seed=1)
    rng = np.random.default_rng(1)
    vt = rng.uniform(4e3, 5e3, op.shape[1::-1])  # large values: the rounding is visible
    offset = (vt.min() + vt.max()) / 2
    rounded = (vt - offset).astype(np.float32).astype(np.float64) + offset
    assert np.abs(rounded - vt).max() > 1e-6
    sweep = _Sweeper(op, np.zeros(op.shape))
    v_in, out = vt.copy(), np.empty_like(vt)
    _, _, lo, hi = sweep(v_in, out, write_q=False, single=True)
    np.testing.assert_array_equal(v_in, rounded)
    g = op.apply(rounded.T[..., None]).max(axis=-1).T  # G(V) by the reference route
    np.testing.assert_allclose(out, g, rtol=0, atol=1e-9)
    assert lo == pytest.approx((g - rounded).min(), abs=1e-9)
    assert hi == pytest.approx((g - rounded).max(), abs=1e-9)
    assert sweep.rounding == pytest.approx(2.0**-24 * (vt.max() - vt.min()) / 2)


@pytest.mark.parametrize("seed, gamma", [(7, 0.9), (8, 0.98)])
@pytest.mark.parametrize("stopping", ["span", "certified", "residual"])
def test_stopping_rules_certify_their_error_bound(stopping, seed, gamma):
    """The returned Q is within the reported error bound of the fixed point (computed
    by plain value iteration to 1e-13), including Anderson-accelerated span stopping."""
    game, local = tiny(seed, gamma=gamma)
    op = empirical_adapted_bellman(game, local, 4, 20, seed=3)
    q_star, _ = value_iteration(op, tol=1e-13, stopping="residual", max_iterations=10**5)
    q, info = value_iteration(op, tol=1e-4, stopping=stopping)
    assert info["converged"]
    err = np.abs(q - q_star).max()
    assert err <= info["error_bound"] + 1e-10
    if stopping != "residual":
        assert info["error_bound"] <= 1e-4
    # warm start at the fixed point: done almost at once
    _, warm = value_iteration(op, tol=1e-6, q0=q_star, stopping=stopping)
    assert warm["iterations"] <= 2


def test_mixed_precision_is_certified_and_ends_in_double():
    """precision="mixed": float32 gathers while the span is far above their rounding, then
    float64. At tol = 1e-9 on values of order 1e3 the float32 rounding (~1e-5) is far
    above what the certificate needs, so the iteration must switch to float64; the
    certified bound holds against the fixed point either way."""
    game, local = tiny(7, gamma=0.9)
    big = TabularGame.from_arrays(
        P_g=game.P_g, P_l=game.P_l, r_g=1e3 * game.r_g, r_l=1e3 * game.r_l, gamma=game.gamma
    )
    op = empirical_adapted_bellman(big, local, 4, 20, seed=3)
    q_star, _ = value_iteration(op, tol=1e-9, stopping="residual", max_iterations=10**5)
    for tol in (1e-9, 1e-2):
        q, info = value_iteration(op, tol=tol, precision="mixed")
        assert info["converged"] and np.abs(q - q_star).max() <= info["error_bound"] + 1e-8
        assert info["float32_sweeps"] > 0
        if tol == 1e-9:
            assert info["float32_sweeps"] < info["iterations"] - 3
    _, double = value_iteration(op, tol=1e-9, precision="double")
    assert double["float32_sweeps"] == 0
    # a small table: "auto" stays in float64
    assert value_iteration(op, tol=1e-9)[1]["float32_sweeps"] == 0
    with pytest.raises(AltmarlError, match="precision"):
        value_iteration(op, precision="half")


def test_anderson_zero_is_plain_value_iteration_with_the_span_rule():
    """value_iteration(anderson=0) iterates V <- G(V) from 0 with no mixing and stops by the
    span rule: replayed here with the reference operator (op.apply), the same sweeps give
    the same Q. Anderson mixing (the default) takes a different path to the fixed point."""
    game, local = tiny(7, gamma=0.9)
    op = empirical_adapted_bellman(game, local, 4, 20, seed=3)
    tol = 1e-6
    beta = game.gamma / (1 - game.gamma)

    def q_of(v):  # Q(V) = r + gamma P_g E V(next); op.apply reads V as max_a of one column
        return op.apply(v[..., None])

    v, sweeps = np.zeros(op.shape[:2]), 0
    while True:
        sweeps += 1
        g = q_of(v).max(axis=-1)
        d = g - v
        if game.gamma * beta * (d.max() - d.min()) / 2 <= tol:
            q_ref = q_of(g + beta * (d.max() + d.min()) / 2)
            sweeps += 1
            break
        v = g
    q, info = value_iteration(op, tol=tol, stopping="span", anderson=0)
    assert info["converged"] and info["iterations"] == sweeps
    np.testing.assert_allclose(q, q_ref, rtol=0, atol=1e-9)
    q_star, _ = value_iteration(op, tol=1e-13, stopping="residual", max_iterations=10**5)
    assert np.abs(q - q_star).max() <= info["error_bound"] + 1e-12
    _, mixed = value_iteration(op, tol=tol, stopping="span")
    assert mixed["iterations"] < sweeps


# ------------------------------------------------------------------- greedy (eq. 20)


def test_greedy_policy_matches_the_array_reference():
    """The one-pass kernel gives the same table as eq. 20 written with array reductions
    (maximum, the tie set, first tied action, seeded keys for the multi-way ties)."""
    rng = np.random.default_rng(3)
    q = rng.integers(0, 3, size=(3, 500, 4)) + rng.uniform(0, 1e-10, size=(3, 500, 4))
    tie_tol, seed = 1e-9, 21
    best = q.max(axis=-1, keepdims=True)
    tied = q >= best - tie_tol
    expect = np.argmax(tied, axis=-1)
    multi = tied.sum(axis=-1) > 1
    keys = np.random.default_rng(seed).random((int(multi.sum()), q.shape[-1]))
    keys[~tied[multi]] = -1.0
    expect[multi] = np.argmax(keys, axis=-1)
    assert 0.3 < multi.mean() < 0.9
    np.testing.assert_array_equal(greedy_policy(q, seed, tie_tol=tie_tol), expect)
    np.testing.assert_array_equal(max_over_actions(q), best[..., 0])


def test_greedy_policy_breaks_ties_uniformly_and_reproducibly():
    q = np.zeros((2, 3000, 3))
    q[1, :, 2] = 1.0  # unique argmax in s_g = 1
    a = greedy_policy(q, 11)
    assert np.array_equal(a, greedy_policy(q, 11))
    assert not np.array_equal(a, greedy_policy(q, 12))
    assert np.all(a[1] == 2)
    freq = np.bincount(a[0], minlength=3) / 3000
    assert np.all(np.abs(freq - 1 / 3) < 4 * np.sqrt(2 / 9 / 3000))
    # ties only among the maximal actions
    q2 = np.array([[[1.0, 3.0, 3.0 - 1e-12]]])
    assert {int(greedy_policy(q2, s)[0, 0]) for s in range(40)} == {1, 2}
