"""Networks of the continuous extension (SPEC §7 G.2): 2-layer MLPs with 64 tanh units.

* :class:`LocalPolicyNet` — the shared robot policy ``pi_l(a | s_g, s_i)``, logits over the
  three local actions;
* :class:`DispatcherNet` — the dispatcher ``pi_g(s_g, histogram of k robots)``, a score per
  bin; it acts greedily (learned global policies are deterministic, SPEC §2);
* :class:`CriticNet` — the L step's value baseline on ``(s_g, s_i, t / H)``; it is never
  deployed, so it may see the time index (the episodes are truncated at ``H``, which makes
  the Monte-Carlo returns time-dependent; a baseline that is any function of state and time
  leaves the policy gradient unbiased).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from altmarl.continuous.env import NUM_GLOBAL_ACTIONS, NUM_LOCAL_ACTIONS

HIDDEN = 64


class _Tanh(torch.autograd.Function):
    """``tanh(x) = 2 sigmoid(2x) - 1`` with the backward ``g (1 - y^2)`` of ``torch.tanh``.

    Why not ``torch.tanh``: on the CPU builds of torch 2.13 its kernel is several times
    slower than ``sigmoid`` (it dominated a training run's profile). The two agree to
    ``2e-7`` (one float32 ulp near 1); the backward is differentiable again (TRPO's
    Fisher-vector products differentiate through it), because ``y`` is saved as an output.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = torch.sigmoid(2.0 * x).mul_(2.0).sub_(1.0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * (1.0 - y * y)


class Tanh(nn.Module):
    """Drop-in for ``nn.Tanh`` (no parameters: state dicts are unchanged)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Tanh.apply(x)


def mlp(inputs: int, outputs: int, hidden: int = HIDDEN, out_gain: float = 1.0) -> nn.Sequential:
    """``inputs -> hidden -> hidden -> outputs`` with tanh, orthogonal initialisation.

    A small ``out_gain`` makes a fresh policy nearly uniform (the SPEC's initial pair).
    """
    net = nn.Sequential(
        nn.Linear(inputs, hidden),
        Tanh(),
        nn.Linear(hidden, hidden),
        Tanh(),
        nn.Linear(hidden, outputs),
    )
    gains = (2**0.5, 2**0.5, out_gain)
    for layer, gain in zip((net[0], net[2], net[4]), gains, strict=True):
        assert isinstance(layer, nn.Linear)
        nn.init.orthogonal_(layer.weight, gain=gain)
        nn.init.zeros_(layer.bias)
    return net


@dataclass(frozen=True)
class FoldedMLP:
    """A snapshot of an :func:`mlp` for inference, in sigmoid form.

    ``tanh(z) = 2 sigmoid(2z) - 1``, so the network ``W3 tanh(W2 tanh(W1 x + b1) + b2) + b3``
    equals ``A3 s2 + c3`` with ``s1 = sigmoid(A1 x + c1)``, ``s2 = sigmoid(A2 s1 + c2)`` and
    ``A1 = 2 W1``, ``c1 = 2 b1``, ``A2 = 4 W2``, ``c2 = 2 (b2 - W2 1)``, ``A3 = 2 W3``,
    ``c3 = b3 - W3 1``: one matrix product and one in-place sigmoid per layer. It is
    the same function up to float rounding (about 1e-6 on the outputs). Rollouts, which
    evaluate the networks on every robot at every step, use it; gradients never go through
    it. The weights are copied when the snapshot is taken.
    """

    layers: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # (A [out, in], c [out])

    @classmethod
    @torch.no_grad()
    def of(cls, body: nn.Sequential) -> FoldedMLP:
        linears = [m for m in body if isinstance(m, nn.Linear)]
        layers = []
        scale, shift = 1.0, None  # the previous layer's output is scale * s + shift
        for i, lin in enumerate(linears):
            weight = lin.weight * scale
            bias = lin.bias if shift is None else lin.bias + lin.weight.sum(dim=1) * shift
            last = i == len(linears) - 1
            factor = 1.0 if last else 2.0  # tanh(z) = 2 sigmoid(2z) - 1
            layers.append(((factor * weight).contiguous(), (factor * bias).contiguous()))
            scale, shift = 2.0, -1.0
        return cls(tuple(layers))

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(-1, x.shape[-1])
        for weight, bias in self.layers[:-1]:
            h = torch.sigmoid_(nn.functional.linear(h, weight, bias))
        return h

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``[..., out]`` for inputs ``[..., in]``."""
        weight, bias = self.layers[-1]
        out = nn.functional.linear(self._hidden(x), weight, bias)
        return out.reshape(*x.shape[:-1], out.shape[-1])

    def transposed(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``[out, N]`` for inputs ``[..., in]`` (``N`` rows): with a handful of
        outputs, reductions along the contiguous row axis (softmax, argmax) are many times
        faster than along a last axis of size 3."""
        weight, bias = self.layers[-1]
        return torch.addmm(bias[:, None], weight, self._hidden(x).t())


class LocalPolicyNet(nn.Module):
    """Shared local policy: ``(s_g, s_i) [..., 2] -> logits [..., 3]``."""

    def __init__(self, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.body = mlp(2, NUM_LOCAL_ACTIONS, hidden, out_gain=0.01)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.body(obs)

    def inference(self) -> FoldedMLP:
        """A snapshot of the network for rollouts (:class:`FoldedMLP`)."""
        return FoldedMLP.of(self.body)


class DispatcherNet(nn.Module):
    """The dispatcher: ``(s_g, histogram) [B, 6] -> scores [B, 5]``; it acts by ``argmax``.

    The scores are the estimated advantages of the five targets when trained by the return
    step (:mod:`~altmarl.continuous.global_response`), logits when trained as the mode
    classifier (:mod:`~altmarl.continuous.mode_classifier`). With
    ``sees_global_state=False`` (the authors' dispatcher, ``--protocol paper``) the network
    reads only the histogram: it still takes the 6-column observation and drops ``s_g``.
    """

    def __init__(self, hidden: int = HIDDEN, *, sees_global_state: bool = True) -> None:
        super().__init__()
        self.sees_global_state = sees_global_state
        inputs = NUM_GLOBAL_ACTIONS + (1 if sees_global_state else 0)
        self.body = mlp(inputs, NUM_GLOBAL_ACTIONS, hidden, out_gain=0.01)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.body(obs if self.sees_global_state else obs[..., 1:])

    def inference(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """A snapshot of the network for rollouts (:class:`FoldedMLP`)."""
        folded = FoldedMLP.of(self.body)
        if self.sees_global_state:
            return folded
        return lambda obs: folded(obs[..., 1:])


class CriticNet(nn.Module):
    """Value baseline ``(s_g, s_i, t / H) [..., 3] -> V [...]``."""

    def __init__(self, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.body = mlp(3, 1, hidden, out_gain=1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.body(obs).squeeze(-1)
