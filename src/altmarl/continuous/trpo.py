"""A compact batched TRPO step (Schulman et al. 2015) for the L step of SPEC §7 G.2.

One call improves a categorical policy on a batch of ``N`` (observation, action, advantage)
samples: natural-gradient direction by ``cg_iters`` conjugate-gradient iterations on the
damped Fisher-vector product ``(F + damping I) v`` (the Hessian of the mean KL), scaled to the
KL radius ``max_kl`` (``0.5 s^T F s = max_kl``), then a backtracking line search that accepts
the LARGEST step ``0.5^j s`` (``j = 0..backtrack_iters-1``) that improves the surrogate
``mean(pi/pi_old * A)`` with mean ``KL(pi_old || pi) <= kl_accept_factor * max_kl``
(1.5 x radius); if none does, the parameters are restored exactly.

sb3-contrib's TRPO does the same job as ``--local-algo sb3-trpo``
(:mod:`altmarl.continuous.sb3_learner`); its line search accepts only ``KL < target_kl`` (not
1.5 x the radius). ``docs/continuous.md`` compares the two.

Speed: the Fisher-vector products use a strided subsample of at most ``fvp_samples``
observations (as OpenAI baselines' ``trpo_mpi`` does); the gradient, surrogate and KL of the
line search use the whole batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from altmarl.errors import AltmarlError


@dataclass(frozen=True)
class TRPOConfig:
    """Hyperparameters (SPEC §7 G.2 defaults)."""

    max_kl: float = 0.01
    cg_iters: int = 10
    damping: float = 0.1
    backtrack_ratio: float = 0.5
    backtrack_iters: int = 10
    kl_accept_factor: float = 1.5
    fvp_samples: int = 2_500

    def __post_init__(self) -> None:
        if not self.max_kl > 0:
            raise AltmarlError(f"max_kl = {self.max_kl} must be > 0")
        if self.cg_iters < 1:
            raise AltmarlError(f"cg_iters = {self.cg_iters} must be >= 1")
        if self.damping < 0:
            raise AltmarlError(f"damping = {self.damping} must be >= 0")
        if not 0 < self.backtrack_ratio < 1:
            raise AltmarlError(f"backtrack_ratio = {self.backtrack_ratio} must lie in (0, 1)")


@dataclass(frozen=True)
class TRPOStepInfo:
    """Outcome of one TRPO step: whether a step was accepted, its fraction ``0.5^j`` of the
    full step (0 if rejected), the mean KL and surrogate improvement of the accepted step,
    the number of line-search trials and the expected (linearised) improvement."""

    accepted: bool
    step_fraction: float
    kl: float
    improvement: float
    trials: int
    expected_improvement: float


def flat_params(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.data.reshape(-1) for p in module.parameters()])


def set_flat_params(module: nn.Module, flat: torch.Tensor) -> None:
    i = 0
    for p in module.parameters():
        p.data.copy_(flat[i : i + p.numel()].view_as(p))
        i += p.numel()


def flat_grad(y: torch.Tensor, module: nn.Module, **kw) -> torch.Tensor:
    grads = torch.autograd.grad(y, list(module.parameters()), **kw)
    return torch.cat([g.reshape(-1) for g in grads])


def conjugate_gradient(
    fvp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int, tol: float = 1e-10
) -> torch.Tensor:
    """Approximately solve ``F x = b`` for symmetric positive definite ``F`` (``iters`` steps)."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rr = torch.dot(r, r)
    for _ in range(iters):
        if rr < tol:
            break
        Ap = fvp(p)
        alpha = rr / torch.dot(p, Ap)
        x += alpha * p
        r -= alpha * Ap
        rr_new = torch.dot(r, r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def categorical_kl(old_logp: torch.Tensor, new_logp: torch.Tensor) -> torch.Tensor:
    """Mean over samples of ``KL(pi_old || pi_new)``; inputs ``[N, A]`` log-probabilities."""
    return (old_logp.exp() * (old_logp - new_logp)).sum(-1).mean()


def trpo_step(
    policy: nn.Module,
    obs: torch.Tensor,
    actions: torch.Tensor,
    advantages: torch.Tensor,
    config: TRPOConfig = TRPOConfig(),
) -> TRPOStepInfo:
    """One TRPO update of ``policy`` (logits network) in place.

    ``obs [N, d]``, ``actions [N]`` int64, ``advantages [N]`` (normalised by the caller).
    """
    # One forward serves the old log-probabilities and the surrogate's gradient at the old
    # parameters (there the ratio is exp(0) = 1 exactly).
    logp_all = torch.log_softmax(policy(obs), dim=-1)
    old_logp_all = logp_all.detach()
    old_logp = old_logp_all.gather(1, actions[:, None]).squeeze(1)
    stride = max(1, obs.shape[0] // config.fvp_samples)
    obs_f, old_f = obs[::stride], old_logp_all[::stride]

    def surrogate_and_kl() -> tuple[torch.Tensor, torch.Tensor]:
        logp_all = torch.log_softmax(policy(obs), dim=-1)
        logp = logp_all.gather(1, actions[:, None]).squeeze(1)
        surr = (torch.exp(logp - old_logp) * advantages).mean()
        return surr, categorical_kl(old_logp_all, logp_all)

    # The KL gradient graph is built once and reused by every Fisher-vector product.
    kl_sub = categorical_kl(old_f, torch.log_softmax(policy(obs_f), dim=-1))
    grad_kl = flat_grad(kl_sub, policy, create_graph=True)

    def fvp(v: torch.Tensor) -> torch.Tensor:
        hv = flat_grad(torch.dot(grad_kl, v), policy, retain_graph=True)
        return hv + config.damping * v

    logp = logp_all.gather(1, actions[:, None]).squeeze(1)
    surr = (torch.exp(logp - old_logp) * advantages).mean()
    g = flat_grad(surr, policy)
    surr0 = float(surr.detach())
    old_params = flat_params(policy).clone()
    if not torch.isfinite(g).all() or float(g.abs().max()) == 0.0:
        return TRPOStepInfo(False, 0.0, 0.0, 0.0, 0, 0.0)
    x = conjugate_gradient(fvp, g, config.cg_iters)
    xFx = float(torch.dot(x, fvp(x)))
    if not xFx > 0:
        return TRPOStepInfo(False, 0.0, 0.0, 0.0, 0, 0.0)
    full_step = (2.0 * config.max_kl / xFx) ** 0.5 * x
    expected = float(torch.dot(g, full_step))
    fraction = 1.0
    for trial in range(1, config.backtrack_iters + 1):
        set_flat_params(policy, old_params + fraction * full_step)
        with torch.no_grad():
            new_surr, new_kl = surrogate_and_kl()
        improvement, kl = float(new_surr) - surr0, float(new_kl)
        if improvement > 0 and kl <= config.kl_accept_factor * config.max_kl:
            return TRPOStepInfo(True, fraction, kl, improvement, trial, expected)
        fraction *= config.backtrack_ratio
    set_flat_params(policy, old_params)
    return TRPOStepInfo(False, 0.0, 0.0, 0.0, config.backtrack_iters, expected)
