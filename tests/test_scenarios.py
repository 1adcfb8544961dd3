"""The built-in scenarios (SPEC §7 G.1; the paper's Examples 2.5 and 2.6).

Each validates as a user's game does, has hand-checked entries, runs through every
command, and a small training beats the uniform-random dispatcher.
"""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.alternating import AlternatingConfig
from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.scenarios import SCENARIOS, get_scenario, scenario_labels
from altmarl.scenarios.labels import Labels
from altmarl.training import train_and_compare

NEW = ("federated", "grid")


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


def test_federated_entries_by_hand():
    g = get_scenario("federated")
    # rule indices: FedAvg 0, damped 1, resync 2; work: 1 epoch 0, 5 epochs 1, prox 2
    # a stale client doing 5 epochs under FedAvg: up 0.35 (stays at the top), down 0 + 0.10
    np.testing.assert_allclose(g.P_l[3, 0, 1], [0, 0, 0.10, 0.90])
    # under resync: restart at 0 w.p. 0.6, else up 0.15 / down 0.10 (prox, no pull)
    np.testing.assert_allclose(g.P_l[1, 2, 2], [0.6 + 0.4 * 0.10, 0.4 * 0.75, 0.4 * 0.15, 0])
    # r_l = 2 + w (gain q - harm (1 - q)): in sync, 5 epochs, FedAvg = 2 + 2 = 4
    assert g.r_l[0, 0, 1] == pytest.approx(4.0)
    assert g.r_l[3, 0, 1] == pytest.approx(0.0)  # the worst case is exactly 0
    assert g.r_l[2, 1, 2] == pytest.approx(2 + 1.5 * (0.6 / 3 - 0.3 * 2 / 3))
    np.testing.assert_allclose(g.r_l[:, 2, :], 2.0)  # resync discards the round
    np.testing.assert_allclose(g.r_g, [[1, 1, 0]] * 3)
    np.testing.assert_allclose(g.P_g[0, 2], [0.2, 0, 0.8])


def test_grid_entries_by_hand():
    g = get_scenario("grid")
    # modes: economy 0, balanced 1, secure 2; responses: follow 0, self-stabilise 1
    np.testing.assert_allclose(g.P_l[2, 0, 0], [0, 0.05, 0.60, 0.35])  # critical may trip
    np.testing.assert_allclose(g.P_l[1, 2, 1], [0.55, 0.45, 0, 0])
    np.testing.assert_allclose(g.P_l[3, 1, 0], [0.20, 0, 0, 0.80])  # restart
    assert g.r_l[0, 0, 0] == pytest.approx(1 + 4)  # stable, economy, follow
    assert g.r_l[1, 2, 1] == pytest.approx(0.5 + 0.8 * 0.5)
    np.testing.assert_allclose(g.r_l[3], 0.0)  # a tripped generator earns nothing
    np.testing.assert_allclose(g.r_g[:, 0], [1, 0.8, 0.2])


def test_unknown_scenario_and_generic_labels():
    with pytest.raises(AltmarlError, match="--scenario 'nope' is unknown; choose from"):
        get_scenario("nope")
    from altmarl.scenarios import random_game

    labels = scenario_labels(random_game(0))
    assert labels == Labels.generic(2, 2, 2, 2)


@pytest.mark.slow
@pytest.mark.parametrize("name, margin", [("federated", 4.0), ("grid", 2.0)])
def test_small_training_beats_the_uniform_dispatcher(name, margin):
    """k = 6, n = 1000, 2 alternations, seed 0: the trained pair against the uniform-random
    dispatcher with the same trained clients/generators on the same 30 rollouts (common
    random numbers). Measured at this seed: +8.0 (federated) and +5.3 (grid), with paired
    standard errors 0.49 and 0.31, so the stated margins are more than 8 standard errors
    below the measured ones; the test is seeded, hence deterministic."""
    game = get_scenario(name)
    cfg = AlternatingConfig(
        k=6,
        n=1000,
        alternations=2,
        eps_tol=0.25,
        update_rollouts=60,
        update_horizon=80,
        final_rollouts=30,
        final_horizon=80,
        seed=0,
        m=30,
        local_oracle="mean-field",
        tol=1e-2,
        global_candidates="safeguarded",
    )
    report = train_and_compare(game, cfg, record=True, progress=False)
    assert report.baselines is not None and report.rollouts is not None
    value = report.rollouts.mean
    assert value > report.baselines.uniform + margin
    assert value >= report.baselines.best_constant - 1e-9


@pytest.mark.parametrize("name", NEW)
def test_every_command_runs_on_the_new_scenarios(name, tmp_path, cli_json):
    out = tmp_path / "run"
    sim = cli_json("simulate", "--scenario", name, "--rollouts", "3", "--horizon", "10")
    assert sim["game"] == name and np.isfinite(sim["mean_return"])
    train = cli_json(
        "train", "--scenario", name, "--k", "2", "--n", "3", "--evaluation", "exact",
        "--m", "exact", "--local-oracle", "planning", "--alternations", "2",
        "--eps-tol", "0.01", "--out", str(out),
    )  # fmt: skip
    assert train["game"] == name
    ev = cli_json(
        "evaluate", "--scenario", name, "--policy-dir", str(out / "policy"), "--n", "3",
        "--k", "2", "--rollouts", "3", "--horizon", "10", "--exact",
    )  # fmt: skip
    cert = cli_json(
        "certify", "--scenario", name, "--policy-dir", str(out / "policy"), "--n", "3",
        "--k", "2", "--max-enumerate", "64",
    )  # fmt: skip
    # the certificate's exact value is the exact evaluation's (same chain, same pair)
    assert cert["value"] == pytest.approx(ev["exact_value"], rel=1e-9)
    assert cert["eps"] >= 0


def test_the_warehouse_protocol_file_is_unchanged():
    """study.json of the warehouse study has no scenario key (so adding scenarios did not
    change it: --resume accepts a study started before them; the exploit keys came with
    the Nash-gap columns, see CHANGELOG); another scenario records its name."""
    from altmarl.experiments.warehouse import WarehouseStudy

    assert list(WarehouseStudy().to_json()) == [
        "k_values", "seeds", "rollouts", "horizon", "n", "alternations", "m", "order",
        "eps_tol", "update_rollouts", "local_oracle", "tol", "global_candidates",
        "reuse_global_response", "exploit", "exploit_rollouts",
    ]  # fmt: skip
    assert WarehouseStudy(scenario="grid").to_json()["scenario"] == "grid"
    with pytest.raises(AltmarlError, match="--scenario 'nope'"):
        WarehouseStudy(scenario="nope").validate()


@pytest.mark.parametrize("name", NEW)
def test_reproduce_runs_the_warehouse_study_on_a_new_scenario(name, tmp_path, cli_json):
    out = tmp_path / "study"
    res = cli_json(
        "reproduce", name, "--k-values", "1,3", "--seeds", "1", "--rollouts", "5",
        "--horizon", "20", "--n", "60", "--alternations", "1", "--workers", "1",
        "--out", str(out),
    )  # fmt: skip
    assert res["finished"] == 2
    assert {"results.csv", "reward_vs_k.png", "zone_heatmap.png", "summary.md"} <= set(res["files"])
    # a regime/mode is not a local state: no mode-mismatch figure for these scenarios
    assert "mode_mismatch_vs_k.png" not in res["files"]
    import json

    from altmarl.policy_dir import load_policy_dir

    assert json.loads((out / "study.json").read_text())["scenario"] == name
    # the saved pair belongs to this scenario's game (the fingerprint is checked on load)
    pair = load_policy_dir(out / "policies" / "k3_seed0", get_scenario(name))
    assert pair.global_policy.table.shape == (3, {"federated": 20, "grid": 20}[name])
    summary = (out / "summary.md").read_text()
    assert summary.startswith(f"# {name.capitalize()} study")
    assert scenario_labels(get_scenario(name)).local_agents in summary
