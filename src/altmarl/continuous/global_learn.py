"""G step of the continuous extension (SPEC §7 G.2): the dispatcher as a contextual bandit.

Given population snapshots ``(s_g, s_1..s_n)`` visited under the current pair, draw a fresh
``k``-subsample (without replacement) per snapshot, form the dispatcher's observation
``(s_g, normalised 5-bin histogram)`` and label it with the TRUE population mode bin; fit
the classifier by cross-entropy (Adam, lr 3e-3, gradient-norm clip 1.0). The greedy
classifier is the proposed ``pi_g'``. With ``k = 1`` the histogram is one robot's bin, so the
accuracy is capped near the larger cluster's share (about 55%); it rises with ``k``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from altmarl.continuous.env import (
    bin_index,
    dispatcher_observation,
    mode_bin,
    subsample_histogram,
)
from altmarl.continuous.networks import DispatcherNet


@dataclass(frozen=True)
class GlobalLearnConfig:
    samples: int = 3000
    lr: float = 3e-3
    grad_clip: float = 1.0
    epochs: int = 10
    batch: int = 256


def bandit_dataset(
    s_g: torch.Tensor, s_l: torch.Tensor, k: int, samples: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``samples`` (observation ``[M, 6]``, mode label ``[M]``) pairs from snapshots
    ``s_g [S]``, ``s_l [S, n]`` chosen uniformly with replacement."""
    pick = torch.randint(0, s_g.shape[0], (samples,), generator=generator)
    bins = bin_index(s_l[pick])
    u = torch.rand(bins.shape, generator=generator)
    obs = dispatcher_observation(s_g[pick], subsample_histogram(bins, k, u))
    return obs, mode_bin(bins)


def global_best_response(
    net: DispatcherNet,
    s_g: torch.Tensor,
    s_l: torch.Tensor,
    k: int,
    generator: torch.Generator,
    config: GlobalLearnConfig = GlobalLearnConfig(),
) -> tuple[DispatcherNet, dict[str, Any]]:
    """Propose ``pi_g'``: a copy of ``net`` fine-tuned on a fresh bandit dataset."""
    obs, labels = bandit_dataset(s_g, s_l, k, config.samples, generator)
    proposal = DispatcherNet()
    proposal.load_state_dict(net.state_dict())
    opt = torch.optim.Adam(proposal.parameters(), lr=config.lr)
    loss = torch.tensor(0.0)
    for _ in range(config.epochs):
        perm = torch.randperm(config.samples, generator=generator)
        for start in range(0, config.samples, config.batch):
            i = perm[start : start + config.batch]
            loss = nn.functional.cross_entropy(proposal(obs[i]), labels[i])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(proposal.parameters(), config.grad_clip)
            opt.step()
    with torch.no_grad():
        acc = float((proposal(obs).argmax(-1) == labels).float().mean())
    return proposal, {"g_loss": float(loss.detach()), "g_train_accuracy": acc}
