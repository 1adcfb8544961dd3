"""The built-in scenarios (``scenarios/__init__.py``, SPEC §7 G.1): each validates as a
user's game does, the warehouse matches the SPEC's formulas, unknown names and generic
labels."""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.scenarios import SCENARIOS, get_scenario, scenario_labels, warehouse
from altmarl.scenarios.labels import Labels


def test_warehouse_matches_spec_formulas():
    g = warehouse()
    assert (g.num_sg, g.num_ag, g.num_sl, g.num_al) == (5, 5, 5, 3)
    assert g.gamma == 0.95
    # P_g(.|s_g=1, a_g=3): logits 0.1 + 3 [s'=3] + 0.5 [s'=1]
    logits = np.full(5, 0.1)
    logits[3] += 3.0
    logits[1] += 0.5
    np.testing.assert_allclose(g.P_g[1, 3], np.exp(logits) / np.exp(logits).sum())
    # P_l(.|s_l=4, s_g=0, up): stay 3.5 on 4, +1.5 on 0 (=4+1 mod 5), +0.3 on s_g=0
    logits = np.full(5, 0.1)
    logits[4] += 3.5
    logits[0] += 1.5 + 0.3
    np.testing.assert_allclose(g.P_l[4, 0, 1], np.exp(logits) / np.exp(logits).sum())
    # down from 0 goes to 4
    assert g.P_l[0, 2, 2].argsort()[-2] == 4
    assert (
        g.r_l[2, 2, 0] == 10.0 and g.r_l[2, 2, 1] == 10.5 and g.r_l[2, 2, 2] == pytest.approx(9.7)
    )
    assert g.r_l[0, 3, 0] == pytest.approx(2 / 3)  # circular distance 2
    assert g.r_l[0, 4, 0] == pytest.approx(1.0)  # circular distance 1
    np.testing.assert_array_equal(g.r_g, 1.0)
    np.testing.assert_allclose(g.dirichlet_alpha, 0.3)
    rng = np.random.default_rng(0)
    rho = g.sample_local_distributions(rng, 1000)
    np.testing.assert_allclose(rho.sum(1), 1.0)
    assert np.abs(rho.mean(0) - 0.2).max() < 0.03


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_validates_as_a_user_game(name, tmp_path):
    game = get_scenario(name)
    for P in (game.P_g, game.P_l):
        assert (P >= 0).all()
        np.testing.assert_allclose(P.sum(axis=-1), 1.0, atol=1e-12)
    assert (game.r_g >= 0).all() and (game.r_l >= 0).all()
    # the same arrays through the user's door: a game file, validated on load
    game.to_npz(tmp_path / "g.npz")
    again = TabularGame.from_npz(tmp_path / "g.npz")
    np.testing.assert_array_equal(again.P_l, game.P_l)
    labels = scenario_labels(game)
    assert labels.fits(game.num_sg, game.num_ag, game.num_sl, game.num_al)
    assert labels.local_states[0] != "s_l=0"  # its own names, not the generic ones


def test_unknown_scenario_and_generic_labels():
    with pytest.raises(AltmarlError, match="--scenario 'nope' is unknown; choose from"):
        get_scenario("nope")
    from altmarl.scenarios import random_game

    labels = scenario_labels(random_game(0))
    assert labels == Labels.generic(2, 2, 2, 2)
