"""Networks of the continuous extension (SPEC §7 G.2): 2-layer MLPs with 64 tanh units.

* :class:`LocalPolicyNet` — the shared robot policy ``pi_l(a | s_g, s_i)``, logits over the
  three local actions;
* :class:`DispatcherNet` — the dispatcher ``pi_g(s_g, histogram of k robots)``, logits over the
  five bins; it acts greedily (learned global policies are deterministic, SPEC §2);
* :class:`CriticNet` — the L step's value baseline on ``(s_g, s_i, t / H)``; it is never
  deployed, so it may see the time index (the episodes are truncated at ``H``, which makes
  the Monte-Carlo returns time-dependent; a baseline that is any function of state and time
  leaves the policy gradient unbiased).
"""

from __future__ import annotations

import torch
from torch import nn

from altmarl.continuous.env import NUM_GLOBAL_ACTIONS, NUM_LOCAL_ACTIONS

HIDDEN = 64


def mlp(inputs: int, outputs: int, hidden: int = HIDDEN, out_gain: float = 1.0) -> nn.Sequential:
    """``inputs -> hidden -> hidden -> outputs`` with tanh, orthogonal initialisation.

    A small ``out_gain`` makes a fresh policy nearly uniform (the SPEC's initial pair).
    """
    net = nn.Sequential(
        nn.Linear(inputs, hidden),
        nn.Tanh(),
        nn.Linear(hidden, hidden),
        nn.Tanh(),
        nn.Linear(hidden, outputs),
    )
    gains = (2**0.5, 2**0.5, out_gain)
    for layer, gain in zip((net[0], net[2], net[4]), gains, strict=True):
        assert isinstance(layer, nn.Linear)
        nn.init.orthogonal_(layer.weight, gain=gain)
        nn.init.zeros_(layer.bias)
    return net


class LocalPolicyNet(nn.Module):
    """Shared local policy: ``(s_g, s_i) [..., 2] -> logits [..., 3]``."""

    def __init__(self, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.body = mlp(2, NUM_LOCAL_ACTIONS, hidden, out_gain=0.01)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.body(obs)


class DispatcherNet(nn.Module):
    """Dispatcher classifier: ``(s_g, histogram) [B, 6] -> logits [B, 5]``."""

    def __init__(self, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.body = mlp(1 + NUM_GLOBAL_ACTIONS, NUM_GLOBAL_ACTIONS, hidden, out_gain=0.01)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.body(obs)


class CriticNet(nn.Module):
    """Value baseline ``(s_g, s_i, t / H) [..., 3] -> V [...]``."""

    def __init__(self, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.body = mlp(3, 1, hidden, out_gain=1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.body(obs).squeeze(-1)
