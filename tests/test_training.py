"""Train, then compare with the reference dispatchers (``training.py``) on the built-in
scenarios."""

from __future__ import annotations

import pytest

from altmarl.alternating import AlternatingConfig
from altmarl.scenarios import get_scenario
from altmarl.training import train_and_compare


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
