"""Shared by tests/continuous/: networks with O(1) random weights, a small warehouse, a TRPO
batch (import after ``pytest.importorskip("torch")``)."""

from __future__ import annotations

import torch

from altmarl.continuous.env import ContinuousWarehouse


def _randomised(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """``net`` with O(1) random weights (a fresh net's output layer is nearly zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return net


def _small():
    return ContinuousWarehouse(n=60, horizon=15)


def _trpo_batch(seed: int):
    gen = torch.Generator().manual_seed(seed)
    obs = torch.rand(6000, 2, generator=gen) * 4 - 2
    actions = torch.randint(0, 3, (6000,), generator=gen)
    # advantage favours moving toward s_g: a learnable signal
    toward = torch.where(obs[:, 0] > obs[:, 1], 1, 2)
    adv = (actions == toward).float() - 0.4 + 0.1 * torch.randn(6000, generator=gen)
    return obs, actions, (adv - adv.mean()) / adv.std()
