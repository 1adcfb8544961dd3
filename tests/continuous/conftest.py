"""Fixtures of every test module of the continuous extension (tests/continuous/)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    # Each module skips itself first where torch is missing (pytest.importorskip).
    yield
