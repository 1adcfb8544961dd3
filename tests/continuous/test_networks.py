"""The continuous networks (``continuous/networks.py``): the fast forms compute what the torch
modules compute."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from altmarl.continuous.networks import (  # noqa: E402
    CriticNet,
    DispatcherNet,
    FoldedMLP,
    LocalPolicyNet,
    Tanh,
)
from continuous_helpers import _randomised  # noqa: E402


def test_tanh_matches_torch_tanh_with_its_gradients():
    x = torch.linspace(-12, 12, 200001)
    assert float((Tanh()(x) - torch.tanh(x)).abs().max()) <= 2.5e-7
    xd = torch.randn(40, 7, dtype=torch.float64, requires_grad=True)
    y = Tanh()(xd)
    (grad,) = torch.autograd.grad(y.sum(), xd, create_graph=True)
    assert torch.allclose(grad, 1 - torch.tanh(xd) ** 2, atol=1e-12)
    # the backward is differentiable again (TRPO's Fisher-vector products need it)
    assert torch.autograd.gradgradcheck(Tanh(), (xd,))


@pytest.mark.parametrize("make", [LocalPolicyNet, CriticNet, DispatcherNet])
def test_folded_network_is_the_same_function(make):
    net = _randomised(make(), seed=3)
    inputs = torch.rand(4000, net.body[0].in_features) * 4 - 2
    folded = FoldedMLP.of(net.body)
    with torch.no_grad():
        expected = net.body(inputs)
    # the two forms differ by float rounding only (the outputs are O(10) here)
    assert float((folded(inputs) - expected).abs().max()) < 1e-4
    assert torch.allclose(folded.transposed(inputs), folded(inputs).t(), atol=1e-5)
    # a snapshot: later changes of the network do not reach it
    with torch.no_grad():
        net.body[0].bias.add_(1.0)
    assert float((folded(inputs) - expected).abs().max()) < 1e-4


def test_dispatcher_inference_form_reads_what_the_network_reads():
    for sees in (True, False):
        net = _randomised(DispatcherNet(sees_global_state=sees), seed=4)
        obs = torch.rand(300, 6)
        with torch.no_grad():
            assert float((net.inference()(obs) - net(obs)).abs().max()) < 1e-4


def test_dispatcher_without_global_state_ignores_it():
    net = _randomised(DispatcherNet(sees_global_state=False), seed=1)
    obs = torch.rand(50, 6)
    moved = obs.clone()
    moved[:, 0] = torch.rand(50) * 4 - 2
    assert torch.equal(net(obs), net(moved))
    assert net.body[0].in_features == 5
