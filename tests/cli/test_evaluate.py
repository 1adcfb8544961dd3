"""``altmarl evaluate`` on a tabular policy directory: Monte Carlo and ``--exact``."""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.counts import CountSpace
from altmarl.exact import exact_value
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.policy_dir import save_policy_dir
from altmarl.scenarios import random_game


@pytest.fixture
def tiny_pair(tmp_path):
    game = random_game(3, num_local_states=3)
    game.to_npz(tmp_path / "g.npz")
    rng = np.random.default_rng(4)
    pg = GlobalPolicy(rng.integers(0, 2, size=(2, CountSpace(2, 3).size)), 2, 3, 2)
    pl = LocalPolicy(rng.dirichlet(np.ones(2), size=(3, 2)))
    save_policy_dir(tmp_path / "pol", pg, pl, game_fingerprint=game.fingerprint)
    return game, pg, pl, tmp_path


def test_evaluate_exact_reports_both_exact_values(tiny_pair, cli_json):
    """--exact adds the exact horizon-H value (what the rollouts estimate) and the exact
    infinite-horizon value, computed on the count chain; the Monte Carlo value agrees with
    the first within 4.5 standard errors (false-failure rate ~7e-6)."""
    game, pg, pl, d = tiny_pair
    n, k, H, R = 4, 2, 20, 4000
    argv = ["evaluate", "--policy-dir", str(d / "pol"), "--game", str(d / "g.npz")]
    argv += ["--n", str(n), "--k", str(k), "--rollouts", str(R), "--horizon", str(H)]
    out = cli_json(*argv, "--exact")
    assert out["exact_value_horizon"] == pytest.approx(
        exact_value(game, pg, pl, n, k, horizon=H), rel=1e-12
    )
    assert out["exact_value"] == pytest.approx(exact_value(game, pg, pl, n, k), rel=1e-12)
    tail = game.gamma**H * game.value_bound
    assert 0 <= out["exact_value"] - out["exact_value_horizon"] <= tail
    stderr = out["value_std"] / np.sqrt(R)
    assert abs(out["value"] - out["exact_value_horizon"]) <= 4.5 * stderr
    plain = cli_json(*argv)
    assert "exact_value" not in plain and "exact_value_horizon" not in plain
    assert plain["value"] == out["value"]  # same seed, same rollouts
