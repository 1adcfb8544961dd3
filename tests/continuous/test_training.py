"""Continuous training runs (``continuous/training.py``): short runs against the uniform
baseline, saved runs re-evaluated, seeds, thread pinning, history, legacy configs."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")

from altmarl.continuous.global_response import ReturnResponseConfig  # noqa: E402
from altmarl.continuous.trpo import flat_params  # noqa: E402
from altmarl.errors import AltmarlError  # noqa: E402


@pytest.fixture(scope="module")
def short_runs(tmp_path_factory):
    """Short training runs (6 alternations, full horizon) at k = 1 and k = 50, seed 0."""
    from altmarl.continuous.training import ContinuousConfig, train_continuous

    out = {}
    for k in (1, 50):
        cfg = ContinuousConfig(k=k, seed=0, alternations=6, eval_episodes=4, final_rollouts=30)
        run_dir = tmp_path_factory.mktemp(f"run{k}")
        out[k] = (train_continuous(cfg, out_dir=run_dir), run_dir)
    return out


@pytest.mark.slow
def test_short_training_beats_uniform_and_the_robots_follow_the_dispatcher(short_runs):
    (big, _), (one, _) = short_runs[50], short_runs[1]
    # Property: the uniform dispatcher picks each of the 5 bins with probability 1/5,
    # independently of the mode, so its accuracy over 30 rollouts x 100 steps is a mean
    # of 3000 Bernoulli(0.2): standard error 0.0073, 0.03 is 4.1 of them
    # (false-failure rate ~4e-5).
    assert big.baseline_mode_accuracy == pytest.approx(0.2, abs=0.03)
    # Regressions: seeded outcomes of one short training run per k, not guarantees. The
    # trained pairs earn well over the uniform baseline (30 rollouts: standard error below
    # 6), and the robots walk to where the dispatcher points, so the population's mode is
    # the dispatcher's bin most of the time, whether it reads its sample or not.
    for run in (big, one):
        assert run.value > 2.5 * run.baseline_value
        assert run.mode_accuracy > 0.75


@pytest.mark.slow
def test_saved_run_re_evaluates_to_the_same_value(short_runs):
    from altmarl.continuous.training import evaluate_continuous_run

    res, run_dir = short_runs[50]
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["value"] == pytest.approx(res.value)
    # same episodes (seed = the run's seed), same networks: the same numbers
    ev = evaluate_continuous_run(run_dir, rollouts=res.config.final_rollouts, seed=0)
    assert ev["value"] == pytest.approx(res.value, rel=1e-6)
    assert ev["mode_accuracy"] == pytest.approx(res.mode_accuracy)
    assert ev["baseline_value"] == pytest.approx(res.baseline_value, rel=1e-6)
    with pytest.raises(AltmarlError, match="k = 501"):
        evaluate_continuous_run(run_dir, k=501)


def test_same_seed_same_networks():
    from altmarl.continuous.local_learn import LocalLearnConfig
    from altmarl.continuous.training import ContinuousConfig, train_continuous

    cfg = ContinuousConfig(k=3, n=60, horizon=15, alternations=2, eval_episodes=2)
    a, b = train_continuous(cfg), train_continuous(cfg)
    assert torch.equal(flat_params(a.local_policy), flat_params(b.local_policy))
    assert torch.equal(flat_params(a.dispatcher), flat_params(b.dispatcher))
    assert a.value == b.value
    with pytest.raises(AltmarlError, match="local algo"):
        LocalLearnConfig(algo="sac")


def _tiny(**kw):
    from altmarl.continuous.training import ContinuousConfig

    return ContinuousConfig(k=3, n=60, horizon=15, alternations=2, eval_episodes=2,
                            final_rollouts=4, select_episodes=2, **kw)  # fmt: skip


def test_a_run_pins_its_thread_count_and_restores_the_callers():
    from altmarl.continuous.training import train_continuous

    seen = []
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        res = train_continuous(
            _tiny(threads=1), progress=lambda row: seen.append(torch.get_num_threads())
        )
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
        assert res.config.to_json()["threads"] == 1
    finally:
        torch.set_num_threads(before)


def test_the_rollouts_threads_change_nothing_but_the_speed():
    """The caller's threads go to the rollouts (the gradient steps stay on ``threads``):
    the same networks, value and history on one and two rollout threads."""
    from altmarl.continuous.training import train_continuous

    one = train_continuous(_tiny(), threads_for_rollouts=1)
    two = train_continuous(_tiny(), threads_for_rollouts=2)
    assert torch.equal(flat_params(one.local_policy), flat_params(two.local_policy))
    assert torch.equal(flat_params(one.dispatcher), flat_params(two.dispatcher))
    # repr: NaN entries (no classifier start) compare equal as text
    assert repr(one.evaluation) == repr(two.evaluation)
    assert repr([h.details for h in one.history]) == repr([h.details for h in two.history])


def test_bad_thread_and_update_settings_are_refused_by_name():
    from altmarl.continuous.training import train_continuous

    with pytest.raises(AltmarlError, match="dispatcher_max_episodes = -4 must be >= 0"):
        _tiny(dispatcher_max_episodes=-4)
    with pytest.raises(AltmarlError, match="dispatcher_z = -1"):
        _tiny(dispatcher_z=-1.0)
    with pytest.raises(AltmarlError, match="threads_for_rollouts = 0 must be an integer >= 1"):
        train_continuous(_tiny(), threads_for_rollouts=0)


def test_history_carries_update_s_paired_gains():
    from altmarl.continuous.training import best_global_gain, train_continuous

    res = train_continuous(_tiny())
    rows = res.history
    assert [r.player for r in rows] == ["global", "local", "global", "local"]
    for r in rows:
        # the gain UPDATE saw is the difference of the two values it compared
        gain, se = r.details["gain"], r.details["gain_stderr"]
        assert gain == pytest.approx(r.new_value - r.old_value, abs=1e-4)
        assert se >= 0
        # robots: keep the better; dispatchers: only ahead by two standard errors
        better = r.new_value > r.old_value and (r.player == "local" or gain > 2 * se)
        assert (r.decision == "accept") == better
    g = [r.details["gain"] for r in rows if r.player == "global"]
    assert best_global_gain(rows)[0] == max(g)
    s = res.summary()
    assert s["margin"] == pytest.approx(s["value"] - s["best_constant_value"], abs=1e-4)


def test_legacy_run_config_loads(tmp_path):
    from altmarl.continuous.training import ContinuousConfig

    cfg = _tiny().to_json()
    # a run saved before the return step kept the mode classifier's settings here
    cfg["global_"] = {"samples": 3000, "lr": 0.003, "grad_clip": 1.0, "epochs": 10, "batch": 256}
    for key in ("protocol", "dispatcher_init", "select_episodes", "threads"):
        cfg.pop(key)
    loaded = ContinuousConfig.from_json(json.loads(json.dumps(cfg)))
    assert loaded.global_ == ReturnResponseConfig() and loaded.protocol == "ours"
    with pytest.raises(AltmarlError, match="dispatcher_init"):
        _tiny(dispatcher_init="classifier")
    with pytest.raises(AltmarlError, match="protocol"):
        _tiny(protocol="theirs")


def test_the_classifier_a_run_started_from_is_scored_at_the_start():
    """``classifier_start_accuracy`` is the paper's metric of the mode classifier the run
    started from (refitted here on its own from the run's initialisation stream), on the same
    fresh starts as the trained dispatcher; NaN for a fresh start. Under the paper's protocol
    it rises with k, as the paper's column does (0.54 -> 0.81)."""
    from altmarl.continuous.evaluation import MODE_STREAM, initial_mode_accuracy
    from altmarl.continuous.mode_classifier import fit_mode_classifier
    from altmarl.continuous.rollout import GreedyDispatcher, torch_generator
    from altmarl.continuous.training import INIT_STREAM, initial_networks, stream, train_continuous

    scores = {}
    for k in (1, 40):
        cfg = replace(_tiny(protocol="paper", dispatcher_init="mode-classifier", seed=2), k=k)
        res = train_continuous(cfg)
        d, _, _ = initial_networks(cfg.seed, sees_global_state=False)
        d, _ = fit_mode_classifier(d, cfg.warehouse(), k, stream(cfg.seed, INIT_STREAM))
        w = cfg.warehouse()
        again = initial_mode_accuracy(
            w, GreedyDispatcher(d), k, 1000, torch_generator(cfg.seed, MODE_STREAM)
        )
        scores[k] = res.evaluation.classifier_start_accuracy
        assert scores[k] == pytest.approx(again, abs=1e-12)
    assert scores[40] > scores[1] + 0.1
    assert math.isnan(train_continuous(_tiny()).evaluation.classifier_start_accuracy)
