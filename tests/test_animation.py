"""``altmarl animate``: recorded episodes draw what online execution did, files are small.

The recorded sample is the one the global agent acted on (a deterministic ``pi_g`` applied
to it reproduces every recorded ``a_g``), a GIF has one frame per step, and bad output
names fail in one line.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from altmarl.experiments.animation import animate_game, record_tabular_episode
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.policy_dir import save_policy_dir
from altmarl.scenarios import get_scenario
from altmarl.simulate import evaluate


def _mode_dispatcher(game, k):
    """A deterministic mean-field ``pi_g`` that depends on the sample (its mode, mod A_g)."""
    from altmarl.counts import CountSpace

    mode = CountSpace(k, game.num_sl).all().argmax(axis=1) % game.num_ag
    return GlobalPolicy(np.tile(mode, (game.num_sg, 1)), k, game.num_sl, game.num_ag)


@pytest.mark.parametrize("simulator", ["counts", "agents"])
def test_the_recorded_sample_is_the_one_the_global_agent_acted_on(simulator):
    game, k, n = get_scenario("grid"), 5, 40
    pi_g = _mode_dispatcher(game, k)
    pi_l = LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
    rec = evaluate(
        game, pi_g, pi_l, n=n, k=k, rollouts=3, horizon=30, seed=1, simulator=simulator, record=True
    )
    sampled, occ = rec.sampled_counts, rec.occupancy
    assert sampled is not None and occ is not None and rec.global_actions is not None
    assert sampled.shape == (3, 30, game.num_sl)
    np.testing.assert_array_equal(sampled.sum(axis=2), k)
    # a sample of the population: never more agents in a state than the state holds
    assert (sampled <= np.rint(occ * n)).all()
    # pi_g applied to the recorded sample gives the recorded action, every step
    for r in range(3):
        again = pi_g.act(rec.global_states[r], sampled[r], np.random.default_rng(0))
        np.testing.assert_array_equal(again, rec.global_actions[r])
    # the sample varies over time (a fresh subsample each step)
    assert len({tuple(c) for c in sampled[0]}) > 1


def test_tabular_gif_has_a_frame_per_step_and_is_reproducible(tmp_path):
    game, k, n = get_scenario("federated"), 4, 200
    pi_g = _mode_dispatcher(game, k)
    pi_l = LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
    a = animate_game(game, pi_g, pi_l, tmp_path / "a.gif", n=n, k=k, horizon=6, seed=3)
    b = animate_game(game, pi_g, pi_l, tmp_path / "b.gif", n=n, k=k, horizon=6, seed=3)
    with Image.open(a) as im:
        assert im.n_frames == 6
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
    assert any(not np.array_equal(frames[0], f) for f in frames[1:])
    assert a.read_bytes() == b.read_bytes()  # same seed, same file
    ep = record_tabular_episode(game, pi_g, pi_l, n=n, k=k, horizon=6, seed=3)
    np.testing.assert_allclose(ep.occupancy.sum(axis=1), 1.0)
    assert ep.horizon == 6 and ep.sampled.sum() == 6 * k


def test_rendering_shows_a_progress_bar(tmp_path, capsys):
    from altmarl.experiments.animation import animate_tabular
    from altmarl.scenarios import scenario_labels

    game = get_scenario("grid")
    pi_g = _mode_dispatcher(game, 3)
    pi_l = LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
    ep = record_tabular_episode(game, pi_g, pi_l, n=30, k=3, horizon=3)
    animate_tabular(ep, scenario_labels(game), tmp_path / "p.gif", progress=True)
    err = capsys.readouterr().err
    assert "frames" in err and "3/3" in err
    animate_tabular(ep, scenario_labels(game), tmp_path / "q.gif", progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_a_100_step_gif_is_small_enough_to_embed(tmp_path):
    """The issue's bound: a few MB at most for 100 steps; measured 0.5-0.6 MB."""
    game = get_scenario("warehouse")
    pi_g = _mode_dispatcher(game, 10)
    pi_l = LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
    out = animate_game(game, pi_g, pi_l, tmp_path / "w.gif", n=1000, k=10, horizon=100)
    with Image.open(out) as im:
        assert im.n_frames == 100
    assert out.stat().st_size < 2_000_000


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
