"""``altmarl train``: JSON, files and ``--resume``; options ``--order``, ``--no-baselines``,
``--local-oracle ucfh``; bad input; two processes on one ``--out``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from alternating_helpers import _rows
from altmarl.alternating import CONSERVATIVE_FRACTIONS, read_history
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


#: ``altmarl train`` on the warehouse at a size a test affords
SMALL = [
    "train", "--k", "3", "--n", "200", "--update-rollouts", "20", "--rollouts", "10",
    "--horizon", "40",
]  # fmt: skip


def test_train_cli_json_files_and_resume(tmp_path, cli, cli_json):
    out = tmp_path / "run"
    args = [
        *SMALL,
        "--alternations",
        "1",
        "--global-candidates",
        "safeguarded",
        "--reuse-global-response",
        "--tol",
        "1e-2",
        "--out",
        str(out),
    ]
    res = cli_json(*args)
    for key in (
        "accepted",
        "rejected",
        "terminated_early",
        "value",
        "value_ci",
        "seconds",
        "best_constant_dispatcher_value",
        "uniform_dispatcher_value",
    ):
        assert key in res
    assert res["value_ci"][0] <= res["value"] <= res["value_ci"][1]
    assert (out / "policy" / "policy.npz").is_file() and (out / "history.csv").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["k"] == 3 and config["game"]["name"] == "warehouse"
    assert config["global_candidates"] == "safeguarded"
    assert config["reuse_global_response"] is True and config["tol"] == 0.01
    names = {r.candidate for r in read_history(out / "history.csv")}
    allowed = {"l-learn", "g-learn", *(f"conservative:{f}" for f in CONSERVATIVE_FRACTIONS)}
    assert names <= allowed | {f"constant:{a}" for a in range(5)}
    code, _, err = cli(*args)
    assert code == 2 and "--resume" in err
    again = cli_json(*args, "--resume")
    assert again["value"] == res["value"]
    ev = cli_json(
        "evaluate",
        "--policy-dir",
        str(out / "policy"),
        "--scenario",
        "warehouse",
        "--n",
        "200",
        "--k",
        "3",
        "--rollouts",
        "5",
        "--horizon",
        "10",
    )
    assert {"value", "value_ci", "mode_mismatch_rate"} <= set(ev)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "--k", "20", "--n", "10", "--out", "x"], "--k 20 must be <= --n 10"),
        (["train", "--k", "0", "--out", "x"], "argument --k"),
        (["train", "--m", "-1", "--out", "x"], "argument --m"),
        (["train", "--eps-tol", "0", "--out", "x"], "argument --eps-tol"),
        (["train", "--delta", "1", "--out", "x"], "argument --delta"),
        (
            ["train", "--update-rollouts", "64", "--max-update-rollouts", "32", "--out", "x"],
            "--max-update-rollouts 32 must be >= --update-rollouts 64",
        ),
        (["train", "--k", "3"], "--out"),
        (
            [
                "evaluate",
                "--policy-dir",
                "/nope",
                "--scenario",
                "warehouse",
                "--n",
                "5",
                "--k",
                "2",
            ],
            "needs policy.npz",
        ),
    ],
)
def test_bad_input_exits_2(cli, argv, needle):
    code, _, err = cli(*argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


TRAIN = [
    *SMALL,
    "--alternations",
    "2",
    "--tol",
    "1e-2",
    "--no-baselines",
    "--json",
]


def test_two_concurrent_train_processes_on_one_out(tmp_path, subprocess_env):
    """The second process is refused (exit 2, naming the directory and the first's pid);
    the first finishes intact: its files are those of a run alone. The first is paused
    (SIGSTOP) while the second tries, so the two overlap however fast the machine is."""
    out, alone = tmp_path / "shared", tmp_path / "alone"
    cmd = [sys.executable, "-m", "altmarl", *TRAIN, "--out"]
    first = subprocess.Popen([*cmd, str(out)], env=subprocess_env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "config.json").exists():  # the first holds the lock from here on
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = subprocess.run(
            [*cmd, str(out)], env=subprocess_env, capture_output=True, text=True, timeout=120
        )
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode == 2, second.stderr
    assert second.stderr.count("\n") == 1
    assert f"{out} is in use" in second.stderr and f"pid {first.pid}" in second.stderr
    assert first.wait(timeout=300) == 0
    solo = subprocess.run(
        [*cmd, str(alone)], env=subprocess_env, capture_output=True, text=True, timeout=300
    )
    assert solo.returncode == 0, solo.stderr
    for run in (out, alone):
        cfg = json.loads((run / "config.json").read_text())
        cfg.pop("game")
        assert cfg["k"] == 3 and cfg["alternations"] == 2
    assert (out / "policy" / "policy.npz").read_bytes() == (
        alone / "policy" / "policy.npz"
    ).read_bytes()
    assert _rows(read_history(out / "history.csv")) == _rows(read_history(alone / "history.csv"))
    assert np.isfinite(json.loads((out / "result.json").read_text())["value"])
