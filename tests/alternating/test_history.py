"""The history of a run (``alternating/history.py``): each decision's comparison on disk, and
the evaluation chosen automatically."""

from __future__ import annotations

import json

import pytest

from alternating_helpers import FAST, GAME
from altmarl.alternating import AlternatingConfig, AlternatingMARL, read_history


def test_history_records_the_comparison_and_auto_picks_the_evaluation(tmp_path):
    """A rollout run records each decision's paired difference, half-width, truncation bias
    and rollouts (UPDATE's horizon by default keeps the bias below eps_tol / 4); a tiny
    system under ``evaluation="auto"`` is evaluated exactly (no rollouts, no intervals)."""
    from altmarl.alternating.evaluators import truncation_tails
    from games import sticky_two_zones

    cfg = AlternatingConfig(**{**FAST, "alternations": 1})
    H = cfg.resolved_update_horizon(GAME)
    bias = truncation_tails(GAME, H)[1]
    assert bias <= cfg.eps_tol / 4 < truncation_tails(GAME, H - 1)[1]
    res = AlternatingMARL(GAME, cfg).run(tmp_path / "r", progress=False)
    assert "rollouts" in res.evaluation
    for row in read_history(tmp_path / "r" / "history.csv"):
        if row.rollouts:
            assert row.bias == pytest.approx(bias) and row.half_width > 0
            assert row.rollouts in SEQUENTIAL_LOOKS and row.difference == pytest.approx(
                row.new_value - row.old_value
            )
    result = json.loads((tmp_path / "r" / "result.json").read_text())
    assert result["update_horizon"] == H and result["inconclusive"] == res.inconclusive
    tiny = AlternatingConfig(k=2, n=4, m=None, local_oracle="planning", eps_tol=1e-3)
    assert tiny.resolved_evaluation(sticky_two_zones(0))[0] == "exact"
    res = AlternatingMARL(sticky_two_zones(0), tiny).run(progress=False)
    assert res.evaluation.startswith("exact") and all(r.rollouts == 0 for r in res.history)


#: Cumulative rollouts per pair at the looks of FAST's sequential test (20, doubling, 1024).
SEQUENTIAL_LOOKS = (20, 40, 80, 160, 320, 640, 1024)
