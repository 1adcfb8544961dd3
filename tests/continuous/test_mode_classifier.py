"""The mode classifier (``continuous/mode_classifier.py``), the paper's G step as an
initialisation."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from altmarl.continuous.env import ContinuousWarehouse  # noqa: E402
from altmarl.continuous.evaluation import initial_mode_accuracy  # noqa: E402
from altmarl.continuous.networks import DispatcherNet  # noqa: E402
from altmarl.continuous.rollout import GreedyDispatcher  # noqa: E402


def test_mode_classifier_initialisation_reads_the_sample():
    from altmarl.continuous.mode_classifier import fit_mode_classifier

    w = ContinuousWarehouse(n=60)
    net, info = fit_mode_classifier(DispatcherNet(), w, 60, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    # k = n: the histogram is the population's, so a classifier of its mode is nearly exact
    assert initial_mode_accuracy(w, GreedyDispatcher(net), 60, 1000, gen) > 0.9
    assert info["train_accuracy"] > 0.9
