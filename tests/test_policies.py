"""Policy classes (``policies.py``): invalid tables are refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from altmarl.errors import PolicyError
from altmarl.policies import GlobalPolicy, LocalPolicy


def test_policy_validation():
    with pytest.raises(PolicyError, match=r"sums to 0.9"):
        LocalPolicy(np.full((2, 2, 2), 0.45))
    with pytest.raises(PolicyError, match="negative"):
        LocalPolicy(np.array([[[1.5, -0.5]]]))
    with pytest.raises(PolicyError, match=r"shape \[S_g, 6\]"):
        GlobalPolicy(np.zeros((2, 5), int), 2, 3, 2)
    with pytest.raises(PolicyError, match=r"actions must lie in \[0, 2\)"):
        GlobalPolicy(np.full((2, 6), 2), 2, 3, 2)
