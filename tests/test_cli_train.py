"""``altmarl train`` options: ``--order``, ``--no-baselines``, ``--local-oracle ucfh``."""

from __future__ import annotations

import json

from altmarl.alternating import read_history
from games import sticky_two_zones

FAST = ["--k", "2", "--n", "50", "--update-rollouts", "5", "--rollouts", "3", "--horizon", "10"]
BASELINE_KEYS = {
    "uniform_dispatcher_value",
    "best_constant_dispatcher_value",
    "best_constant_action",
}


def test_order_sets_who_moves_first(tmp_path, cli_json):
    for order, first in (("global-local", "global"), ("local-global", "local")):
        out = tmp_path / order
        cli_json("train", *FAST, "--alternations", "2", "--order", order, "--out", str(out))
        players = [r.player for r in read_history(out / "history.csv")]
        assert players[0] == first
        # the players alternate in that order for as long as the run goes
        assert players == [order.split("-")[i % 2] for i in range(len(players))]
        assert json.loads((out / "config.json").read_text())["order"] == order.split("-")


def test_no_baselines_skips_the_dispatcher_baselines(tmp_path, cli_json):
    with_base = cli_json("train", *FAST, "--alternations", "1", "--out", str(tmp_path / "a"))
    assert BASELINE_KEYS <= set(with_base)
    assert BASELINE_KEYS <= set(json.loads((tmp_path / "a" / "result.json").read_text()))
    out = cli_json(
        "train", *FAST, "--alternations", "1", "--no-baselines", "--out", str(tmp_path / "b")
    )
    assert not BASELINE_KEYS & set(out)
    assert not BASELINE_KEYS & set(json.loads((tmp_path / "b" / "result.json").read_text()))
    assert out["value"] == with_base["value"]  # the training itself is unchanged


def test_local_oracle_ucfh_learns_from_sampled_episodes(tmp_path, cli_json):
    """With --local-oracle ucfh the local step is UCFH on the k-chained MDP: it reports the
    episodes it ran, each of T macro steps of k + 1 micro steps; the default mean-field
    oracle is model-based (no episodes, no samples)."""
    game = sticky_two_zones(0)
    game.to_npz(tmp_path / "g.npz")
    k = 2
    common = ["train", "--game", str(tmp_path / "g.npz"), "--k", str(k), "--n", "3"]
    common += ["--evaluation", "exact", "--m", "exact", "--eps-tol", "0.001"]
    common += ["--alternations", "1", "--order", "local-global"]
    cli_json(*common, "--local-oracle", "ucfh", "--out", str(tmp_path / "u"))
    assert json.loads((tmp_path / "u" / "config.json").read_text())["local_oracle"] == "ucfh"
    local = [r for r in read_history(tmp_path / "u" / "history.csv") if r.player == "local"]
    assert local and all(r.episodes > 0 for r in local)
    assert all(r.samples % (r.episodes * (k + 1)) == 0 for r in local)
    cli_json(*common, "--out", str(tmp_path / "mf"))
    local = [r for r in read_history(tmp_path / "mf" / "history.csv") if r.player == "local"]
    assert local and all(r.episodes == 0 and r.samples == 0 for r in local)
