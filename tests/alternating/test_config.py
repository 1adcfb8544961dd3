"""``AlternatingConfig`` (``alternating/config.py``): invalid settings are refused by name."""

from __future__ import annotations

import pytest

from alternating_helpers import GAME
from altmarl.alternating import AlternatingConfig, AlternatingMARL
from altmarl.errors import AltmarlError


def test_config_validation():
    with pytest.raises(AltmarlError, match="k = 11 must be <= n = 10"):
        AlternatingMARL(GAME, AlternatingConfig(k=11, n=10))
    with pytest.raises(AltmarlError, match="order"):
        AlternatingMARL(GAME, AlternatingConfig(k=1, n=10, order=("dispatcher",)))
    with pytest.raises(AltmarlError, match="global_candidates"):
        AlternatingMARL(GAME, AlternatingConfig(k=1, n=10, global_candidates="all"))
    with pytest.raises(AltmarlError, match="initial_global_action"):
        AlternatingMARL(GAME, AlternatingConfig(k=1, n=10, initial_global_action=7))
    with pytest.raises(AltmarlError, match="delta"):
        AlternatingMARL(GAME, AlternatingConfig(k=1, n=10, delta=0.0))
    with pytest.raises(AltmarlError, match="max_update_rollouts"):
        AlternatingMARL(GAME, AlternatingConfig(k=1, n=10, max_update_rollouts=8))
