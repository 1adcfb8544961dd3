"""Continuous-state extension (SPEC §7 G.2): neural dispatcher + TRPO shared robot policy.

Needs the ``[deep]`` extra (torch, gymnasium). The tabular library never imports this
package, so it runs without torch.
"""

from __future__ import annotations

from altmarl.continuous.env import ContinuousWarehouse
from altmarl.continuous.training import (
    ContinuousConfig,
    ContinuousResult,
    evaluate_continuous_run,
    load_run,
    train_continuous,
)

__all__ = [
    "ContinuousConfig",
    "ContinuousResult",
    "ContinuousWarehouse",
    "evaluate_continuous_run",
    "load_run",
    "train_continuous",
]
