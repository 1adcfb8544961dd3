"""The continuous study (``experiments/continuous_study.py``): local and Ray backends agree."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.slow
def test_local_and_ray_backends_agree_on_the_continuous_study(tmp_path):
    pytest.importorskip("ray")
    from altmarl.experiments.continuous_study import ContinuousStudy, run_study
    from altmarl.experiments.sweep import read_results

    study = ContinuousStudy(
        k_values=(1, 4),
        seeds=1,
        alternations=1,
        horizon=10,
        rollouts=2,
        n=40,
        eval_episodes=2,
    )
    rows = {}
    for backend in ("local", "ray"):
        run_study(study, tmp_path / backend, backend=backend, workers=2, figures=False)
        rows[backend] = {
            (r["k"], r["seed"]): {k: v for k, v in r.items() if "seconds" not in k}
            for r in read_results(tmp_path / backend / "results.csv")
        }
    assert len(rows["local"]) == 2 and rows["local"] == rows["ray"]
