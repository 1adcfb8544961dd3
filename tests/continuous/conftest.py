"""Fixtures of every test module of the continuous extension (tests/continuous/)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # The networks are small: one thread is as fast and never oversubscribes a busy machine.
    # Each module skips itself first where torch is missing (pytest.importorskip).
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
