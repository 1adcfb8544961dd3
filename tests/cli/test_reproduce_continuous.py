"""``altmarl reproduce continuous`` (``cli/reproduce_continuous.py``) and the continuous
``evaluate`` hook: both protocols end to end, the sb3-trpo learner's errors."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")
pytest.importorskip("sb3_contrib")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.slow
def test_cli_reproduce_continuous_end_to_end(cli, tmp_path):
    out = tmp_path / "study"
    # --local-algo ppo: the default (TRPO) is trained in tests/continuous/test_training.py
    small = ["--k-values", "1,4", "--seeds", "1", "--alternations", "1", "--horizon", "10",
             "--rollouts", "2", "--n", "40", "--eval-episodes", "2", "--workers", "1",
             "--local-algo", "ppo"]  # fmt: skip
    code, stdout, err = cli("reproduce", "continuous", *small, "--out", str(out), "--json")
    assert code == 0, err
    # --local-algo reaches the protocol and every job's training config
    assert json.loads((out / "study.json").read_text())["local_algo"] == "ppo"
    for k in (1, 4):
        config = json.loads((out / "runs" / f"k{k}_seed0" / "config.json").read_text())
        assert config["local"]["algo"] == "ppo"
    assert "local algorithm ppo" in (out / "summary.md").read_text()
    files = set(json.loads(stdout)["files"])
    for name in (
        "reward_vs_k_continuous",
        "mode_accuracy_vs_k",
        "runtime_vs_k_continuous",
        "zone_heatmap_continuous",
    ):
        assert {f"{name}.png", f"{name}.csv"} <= files
    assert {"summary.md", "results.csv"} <= files
    for k in (1, 4):
        run = out / "runs" / f"k{k}_seed0"
        assert {p.name for p in run.iterdir()} >= {
            "config.json",
            "dispatcher.pt",
            "local_policy.pt",
        }
    # resume: nothing left to do, the sweep and the figures are rebuilt from results.csv
    code, _, err = cli("reproduce", "continuous", *small, "--out", str(out), "--resume")
    assert code == 0, err
    # bad input: exit 2, one line naming the argument
    code, _, err = cli("reproduce", "continuous", "--k-values", "1,41", "--n", "40",
                       "--out", str(tmp_path / "bad"))  # fmt: skip
    assert code == 2 and "--k-values" in err and len(err.strip().splitlines()) == 1

    # the evaluate hook on the saved run
    from altmarl.cli.evaluate_continuous import add_arguments, run_continuous

    parser = argparse.ArgumentParser()
    add_arguments(parser, shared=False)
    args = parser.parse_args(
        ["--continuous-run", str(out / "runs" / "k4_seed0"), "--rollouts", "3"]
    )
    assert run_continuous(args) == 0
    # ... and through `altmarl evaluate`
    code, stdout, err = cli(
        "evaluate",
        "--continuous-run",
        str(out / "runs" / "k4_seed0"),
        "--rollouts",
        "3",
        "--json",
    )
    assert code == 0, err
    ev = json.loads(stdout)
    # --n, --k and --horizon default to the run's own (it was trained at horizon 10)
    assert ev["k"] == 4 and ev["n"] == 40 and ev["horizon"] == 10 and np.isfinite(ev["value"])
    code, _, err = cli("evaluate", "--continuous-run", str(tmp_path / "none"))
    assert code == 2 and "no such directory" in err


@pytest.mark.slow
def test_reproduce_continuous_paper_protocol_end_to_end(cli, tmp_path):
    out = tmp_path / "paper"
    small = ["--k-values", "1,4", "--seeds", "2", "--alternations", "1", "--horizon", "10",
             "--rollouts", "3", "--n", "40", "--eval-episodes", "2", "--workers", "1"]  # fmt: skip
    code, stdout, err = cli("reproduce", "continuous", *small, "--protocol", "paper",
                            "--out", str(out), "--json")  # fmt: skip
    assert code == 0, err
    study = json.loads((out / "study.json").read_text())
    # the paper's protocol starts from the authors' dispatcher, a mode classifier
    assert study["protocol"] == "paper" and study["dispatcher_init"] == "mode-classifier"
    config = json.loads((out / "runs" / "k4_seed0" / "config.json").read_text())
    assert config["protocol"] == "paper" and config["threads"] == 1
    res = json.loads((out / "runs" / "k4_seed0" / "result.json").read_text())
    assert res["horizon"] == 50 and res["protocol"] == "paper"
    assert res["margin"] == pytest.approx(res["value"] - res["best_constant_value"], abs=1e-4)
    files = set(json.loads(stdout)["files"])
    assert {"margin_vs_k_continuous.png", "margin_vs_k_continuous.csv"} <= files
    summary = (out / "summary.md").read_text()
    assert "paper return" in summary and "127.7" in summary  # the paper's k = 1 return
    # the margin table: one row per k, runs above and runs sure counted out of 2 seeds
    with (out / "margin_vs_k_continuous.csv").open() as fh:
        header, *rows = [line.strip().split(",") for line in fh]
    assert header[0] == "k" and [r[0] for r in rows] == ["1", "4"]
    assert all(0 <= int(r[header.index("runs_above_constant")]) <= 2 for r in rows)
    # a protocol that does not exist: exit 2, one line naming the argument
    code, _, err = cli("reproduce", "continuous", *small, "--protocol", "authors",
                       "--out", str(tmp_path / "bad"))  # fmt: skip
    assert code == 2 and "--protocol" in err and len(err.strip().splitlines()) == 1


def test_cli_lists_sb3_trpo_when_the_learner_is_misspelt(cli, tmp_path):
    code, _, err = cli("reproduce", "continuous", "--local-algo", "sb3", "--out", str(tmp_path))
    assert code == 2 and "sb3-trpo" in err


def test_a_missing_stable_baselines3_is_one_clear_error(cli, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sb3_contrib" else real(name, *a),
    )
    # a small protocol, so that a regression (the error surfacing in the jobs) stays quick
    small = ["--k-values", "1", "--seeds", "1", "--alternations", "1", "--n", "10", "--horizon",
             "5", "--rollouts", "1", "--eval-episodes", "1", "--workers", "1"]  # fmt: skip
    code, _, err = cli("reproduce", "continuous", *small, "--local-algo", "sb3-trpo", "--out",
                       str(tmp_path))  # fmt: skip
    assert code == 2 and "pip install 'altmarl[deep]'" in err and "Traceback" not in err
