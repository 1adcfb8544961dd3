"""``altmarl animate``: GIF and MP4 of tabular and continuous runs, bad output names in one
line."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from altmarl.policies import LocalPolicy
from altmarl.policy_dir import save_policy_dir
from altmarl.scenarios import get_scenario
from experiments_helpers import _mode_dispatcher


def _policy_dir(tmp_path, game, k):
    pi_g = _mode_dispatcher(game, k)
    pi_l = LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
    save_policy_dir(tmp_path / "pol", pi_g, pi_l, game_fingerprint=game.fingerprint)
    return str(tmp_path / "pol")


def test_cli_animate_writes_a_gif(tmp_path, cli_json):
    pol = _policy_dir(tmp_path, get_scenario("grid"), 3)
    out = tmp_path / "ep.gif"
    res = cli_json(
        "animate", "--scenario", "grid", "--policy-dir", pol, "--n", "50", "--horizon", "4",
        "--out", str(out),
    )  # fmt: skip
    assert res["out"] == str(out) and res["bytes"] == out.stat().st_size > 0
    with Image.open(out) as im:
        assert im.n_frames == 4


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--out", "ep.png"], "--out ep.png: the file must end in .gif or .mp4"),
        (["--out", "ep.gif", "--k", "60"], "--k 60 must be <= --n 50"),
        (["--out", "ep.gif", "--continuous-run", "."], "--continuous-run takes no --policy-dir"),
    ],
)
def test_cli_animate_bad_input_is_one_line(tmp_path, cli, extra, needle, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pol = _policy_dir(tmp_path, get_scenario("grid"), 3)
    code, _, err = cli("animate", "--scenario", "grid", "--policy-dir", pol, "--n", "50", *extra)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_mp4_needs_ffmpeg(tmp_path, cli, monkeypatch):
    import altmarl.experiments.animation as anim

    monkeypatch.setattr(anim.shutil, "which", lambda name: None)
    pol = _policy_dir(tmp_path, get_scenario("grid"), 3)
    code, _, err = cli(
        "animate", "--scenario", "grid", "--policy-dir", pol, "--out", str(tmp_path / "e.mp4")
    )
    assert code == 2 and "needs ffmpeg on PATH" in err


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_mp4_with_ffmpeg(tmp_path, cli_json):
    pol = _policy_dir(tmp_path, get_scenario("grid"), 3)
    out = tmp_path / "ep.mp4"
    cli_json(
        "animate", "--scenario", "grid", "--policy-dir", pol, "--n", "50", "--horizon", "5",
        "--out", str(out),
    )  # fmt: skip
    head = out.read_bytes()[:12]
    assert head[4:8] == b"ftyp"  # an MP4 container


def test_continuous_run_animates_with_the_sample_the_dispatcher_saw(tmp_path, cli_json):
    torch = pytest.importorskip("torch")
    from altmarl.continuous.env import bin_counts, bin_index, dispatcher_observation
    from altmarl.continuous.rollout import GreedyDispatcher, SampledLocal, simulate
    from altmarl.continuous.training import ContinuousConfig, initial_networks

    cfg = ContinuousConfig(k=4, n=30, horizon=6, alternations=0)
    dispatcher, policy, _ = initial_networks(3)
    with torch.no_grad():  # a dispatcher that reads its input (a fresh net is near-constant)
        for p in dispatcher.parameters():
            p.mul_(40.0)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(cfg.to_json()))
    torch.save(dispatcher.state_dict(), run / "dispatcher.pt")
    torch.save(policy.state_dict(), run / "local_policy.pt")
    w = cfg.warehouse()
    roll = simulate(w, GreedyDispatcher(dispatcher), SampledLocal(policy), 4, 2, 0, record=True)
    assert roll.sampled is not None and roll.s_l is not None and roll.s_g is not None
    assert roll.sampled.shape == (6, 2, 4)
    for t in range(6):
        picked = torch.gather(bin_index(roll.s_l[t]), 1, roll.sampled[t])
        hist = bin_counts(picked) / 4
        again = torch.argmax(dispatcher(dispatcher_observation(roll.s_g[t], hist)), dim=-1)
        assert torch.equal(again, roll.global_actions[t])
    res = cli_json("animate", "--continuous-run", str(run), "--out", str(tmp_path / "c.gif"))
    with Image.open(res["out"]) as im:
        assert im.n_frames == 6
