"""``altmarl animate``: recorded episodes draw what online execution did, files are small.

The recorded sample is the one the global agent acted on (a deterministic ``pi_g`` applied
to it reproduces every recorded ``a_g``), a GIF has one frame per step, and bad output
names fail in one line.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from altmarl.experiments.animation import animate_game, record_tabular_episode
from altmarl.policies import LocalPolicy
from altmarl.scenarios import get_scenario
from altmarl.simulate import evaluate
from experiments_helpers import _mode_dispatcher


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
