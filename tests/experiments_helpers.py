"""Shared by tests/experiments/ and tests/cli/: the warehouse study's rows without their
timing columns, and a dispatcher that reads its sample (for animations)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from altmarl.experiments.sweep import read_results
from altmarl.policies import GlobalPolicy

TIMING = {"job_seconds", "train_seconds", "exploit_seconds"}


def _rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    return {
        (r["k"], r["seed"]): {k: v for k, v in r.items() if k not in TIMING}
        for r in read_results(path)
    }


def _mode_dispatcher(game, k):
    """A deterministic mean-field ``pi_g`` that depends on the sample (its mode, mod A_g)."""
    from altmarl.counts import CountSpace

    mode = CountSpace(k, game.num_sl).all().argmax(axis=1) % game.num_ag
    return GlobalPolicy(np.tile(mode, (game.num_sg, 1)), k, game.num_sl, game.num_ag)
