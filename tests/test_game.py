"""The tabular game (``game.py``, SPEC §1): validation, files, callables, the averaged local
kernel."""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.errors import GameValidationError
from altmarl.game import TabularGame
from altmarl.scenarios import random_game, warehouse


def _arrays(seed=0):
    g = random_game(seed, num_global_states=2, num_global_actions=3, num_local_states=2)
    return dict(P_g=g.P_g.copy(), P_l=g.P_l.copy(), r_g=g.r_g.copy(), r_l=g.r_l.copy(), gamma=0.9)


def test_valid_game_sizes_and_bounds():
    g = TabularGame.from_arrays(**_arrays())
    assert (g.num_sg, g.num_ag, g.num_sl, g.num_al) == (2, 3, 2, 2)
    assert g.r_max == pytest.approx(g.r_g.max() + g.r_l.max())
    assert g.value_bound == pytest.approx(g.r_max / 0.1)
    np.testing.assert_allclose(g.rho_g, [0.5, 0.5])
    np.testing.assert_allclose(g.rho_l, [0.5, 0.5])
    with pytest.raises(ValueError):
        g.P_g[0, 0, 0] = 0.3  # arrays are read-only


@pytest.mark.parametrize(
    "mutate, pattern",
    [
        (lambda a: a.update(P_g=a["P_g"][:, :, :1]), r"P_g must have shape"),
        (lambda a: a.update(P_l=a["P_l"][:, :1]), r"P_l must have shape"),
        (lambda a: a.update(r_g=a["r_g"][:, :2]), r"r_g must have shape"),
        (lambda a: a.update(r_l=a["r_l"][None]), r"r_l must have 3 dimensions"),
        (
            lambda a: a["P_l"].__setitem__((1, 0, 1, 0), np.nan),
            r"P_l\[1, 0, 1, 0\] = nan is not finite",
        ),
        (lambda a: a["r_g"].__setitem__((0, 2), np.inf), r"r_g\[0, 2\] = inf is not finite"),
        (
            lambda a: a["P_g"].__setitem__((1, 2), [1.2, -0.2]),
            r"P_g\[1, 2, 1\] = -0.2 is a negative probability",
        ),
        (lambda a: a["P_l"].__setitem__((0, 1, 0), [0.5, 0.49]), r"P_l\[0, 1, 0, :\] sums to 0.99"),
        (lambda a: a["P_g"].__setitem__((0, 0), [0.5, 0.5 + 1e-8]), r"P_g\[0, 0, :\] sums to"),
        (
            lambda a: a["r_l"].__setitem__((1, 0, 1), -0.3),
            r"r_l\[1, 0, 1\] = -0.3 is negative: Assumption 2.2.*shift",
        ),
        (lambda a: a["r_g"].__setitem__((1, 1), -1), r"r_g\[1, 1\] = -1 is negative"),
        (lambda a: a.update(gamma=1.0), r"gamma = 1.0 must lie in the open interval"),
        (lambda a: a.update(gamma=0.0), r"gamma = 0.0 must lie"),
        (lambda a: a.update(rho_g=[0.2, 0.7]), r"rho_g sums to 0.9"),
        (lambda a: a.update(rho_l=[1.0, 0.0, 0.0]), r"rho_l must have shape"),
        (lambda a: a.update(dirichlet_alpha=[0.3, -1.0]), r"dirichlet_alpha entries must be > 0"),
    ],
)
def test_validation_errors_name_array_index_and_rule(mutate, pattern):
    a = _arrays()
    mutate(a)
    with pytest.raises(GameValidationError, match=pattern):
        TabularGame.from_arrays(**a)


def test_row_sum_tolerance_is_1e_9():
    a = _arrays()
    a["P_g"][0, 0] = [0.5, 0.5 + 5e-10]
    TabularGame.from_arrays(**a)  # within tolerance


def test_npz_round_trip_and_errors(tmp_path):
    g = warehouse()
    path = tmp_path / "w.npz"
    g.to_npz(path)
    h = TabularGame.from_npz(path)
    assert h.fingerprint == g.fingerprint
    np.testing.assert_array_equal(h.dirichlet_alpha, g.dirichlet_alpha)
    a = _arrays()
    del a["r_l"]
    np.savez(tmp_path / "bad.npz", **a)
    with pytest.raises(GameValidationError, match=r"missing key.*r_l"):
        TabularGame.from_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "extra.npz", **_arrays(), foo=np.ones(2))
    with pytest.raises(GameValidationError, match=r"unknown key.*foo"):
        TabularGame.from_npz(tmp_path / "extra.npz")
    with pytest.raises(GameValidationError, match="no such file"):
        TabularGame.from_npz(tmp_path / "missing.npz")


def test_from_callables_matches_arrays():
    a = _arrays(3)
    g = TabularGame.from_callables(
        num_global_states=2,
        num_global_actions=3,
        num_local_states=2,
        num_local_actions=2,
        global_transition=lambda s, u: a["P_g"][s, u],
        local_transition=lambda s, g_, u: a["P_l"][s, g_, u],
        global_reward=lambda s, u: a["r_g"][s, u],
        local_reward=lambda s, g_, u: a["r_l"][s, g_, u],
        gamma=0.9,
    )
    assert g.fingerprint == TabularGame.from_arrays(**a).fingerprint


def test_averaged_local_is_a_kernel():
    g = warehouse()
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=(5, 5))
    P_bar, r_bar = g.averaged_local(probs)
    np.testing.assert_allclose(P_bar.sum(-1), 1.0)
    assert r_bar[2, 2] == pytest.approx(probs[2, 2] @ g.r_l[2, 2])
