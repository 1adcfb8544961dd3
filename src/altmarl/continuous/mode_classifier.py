"""The mode classifier: a dispatcher fitted to name the population's mode bin (SPEC §7 G.2).

This is the G step of the paper's continuous experiment: draw ``samples`` fresh episode
starts, a ``k``-subsample of each (without replacement), label it with the true population
mode bin, and fit the dispatcher by cross-entropy (Adam, lr 3e-3, gradient-norm clip 1.0).
It classifies the mode; it is not a best response in return (the return step,
:mod:`~altmarl.continuous.global_response`, is), and UPDATE judges on return, so altmarl uses
it only as an optional initialisation of the dispatcher (``dispatcher_init =
"mode-classifier"``). With ``k = 1`` the histogram is one robot's bin and the accuracy is
capped near the larger cluster's share (about 55%); it rises with ``k``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from altmarl.continuous.env import (
    ContinuousWarehouse,
    bin_index,
    dispatcher_observation,
    initial_states,
    mode_bin,
    subsample_histogram,
)
from altmarl.continuous.networks import DispatcherNet


@dataclass(frozen=True)
class ModeClassifierConfig:
    samples: int = 3000
    lr: float = 3e-3
    grad_clip: float = 1.0
    epochs: int = 10
    batch: int = 256


def mode_dataset(
    w: ContinuousWarehouse, k: int, samples: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``samples`` (observation ``[M, 6]``, initial mode bin ``[M]``) pairs from fresh starts."""
    s_g, s_l = initial_states(w, samples, generator)
    bins = bin_index(s_l)
    u = torch.rand(bins.shape, generator=generator)
    return dispatcher_observation(s_g, subsample_histogram(bins, k, u)), mode_bin(bins)


def fit_mode_classifier(
    net: DispatcherNet,
    w: ContinuousWarehouse,
    k: int,
    generator: torch.Generator,
    config: ModeClassifierConfig = ModeClassifierConfig(),
) -> tuple[DispatcherNet, dict[str, Any]]:
    """A copy of ``net`` trained to classify the initial population mode from a k-sample."""
    obs, labels = mode_dataset(w, k, config.samples, generator)
    proposal = copy.deepcopy(net)
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
    return proposal, {"loss": float(loss.detach()), "train_accuracy": acc}
