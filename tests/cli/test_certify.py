"""``altmarl certify``: a trained tiny run certified, and restricted-class enumeration under
``--max-enumerate``."""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.counts import CountSpace
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.policy_dir import save_policy_dir
from games import sticky_two_zones


def test_max_enumerate_skips_only_the_classes_over_the_limit(tmp_path, cli_json):
    """k = 2 of n = 3 on a 2-state game: 2^(2 x 3) = 64 deterministic global policies and
    2^(2 x 2) = 16 deterministic shared local ones. --max-enumerate 16 enumerates the local
    class only (the limit is inclusive); the exact upper bounds do not depend on it."""
    game = sticky_two_zones(1)
    game.to_npz(tmp_path / "g.npz")
    rng = np.random.default_rng(0)
    pg = GlobalPolicy(rng.integers(0, 2, size=(2, CountSpace(2, 2).size)), 2, 2, 2)
    save_policy_dir(tmp_path / "pol", pg, LocalPolicy.uniform(2, 2, 2))
    argv = ["certify", "--game", str(tmp_path / "g.npz"), "--policy-dir", str(tmp_path / "pol")]
    argv += ["--n", "3", "--k", "2"]
    full = cli_json(*argv)
    assert full["global_gap_restricted"] is not None and full["local_gap_restricted"] is not None
    part = cli_json(*argv, "--max-enumerate", "16")
    assert part["global_gap_restricted"] is None
    assert part["local_gap_restricted"] == full["local_gap_restricted"]
    none = cli_json(*argv, "--max-enumerate", "15")
    assert none["global_gap_restricted"] is None and none["local_gap_restricted"] is None
    for key in ("value", "global_gap_upper", "local_gap_upper", "eps"):
        assert part[key] == none[key] == full[key]


def test_certify_cli(tmp_path, cli_json, cli):
    from games import sticky_two_zones

    game = sticky_two_zones(0)
    game.to_npz(tmp_path / "g.npz")
    out = cli_json(
        "train",
        "--game",
        str(tmp_path / "g.npz"),
        "--k",
        "2",
        "--n",
        "3",
        "--evaluation",
        "exact",
        "--m",
        "exact",
        "--local-oracle",
        "planning",
        "--eps-tol",
        "0.001",
        "--out",
        str(tmp_path / "run"),
    )
    assert out["accepted"] >= 1
    certify = [
        "certify", "--game", str(tmp_path / "g.npz"),
        "--policy-dir", str(tmp_path / "run" / "policy"), "--n", "3",
    ]  # fmt: skip
    cert = cli_json(*certify, "--k", "2")
    for key in (
        "value",
        "global_gap_upper",
        "local_gap_upper",
        "global_gap_restricted",
        "local_gap_restricted",
        "eps",
    ):
        assert key in cert
    assert cert["value"] == pytest.approx(out["value"])
    code, _, err = cli(*certify, "--k", "3")
    assert code == 2 and "differs from the policy's k" in err
