"""The planning oracle (``llearn/planning.py``): a local optimum of the shared class."""

from __future__ import annotations

import numpy as np

from altmarl.llearn import best_response
from altmarl.policies import LocalPolicy
from llearn_helpers import K, T, shared_value, tiny_setup


def test_planning_is_a_local_optimum_of_the_shared_class():
    game, pi_g = tiny_setup(1)
    res = best_response(game, pi_g, K, oracle="planning", T=T)
    pol, info = res.policy, res.info
    acts = pol.probs.argmax(axis=2)
    assert np.allclose(pol.probs, np.eye(2)[acts])
    for s_l in range(2):
        for s_g in range(2):
            trial = acts.copy()
            trial[s_l, s_g] = 1 - trial[s_l, s_g]
            assert (
                shared_value(game, pi_g, LocalPolicy.deterministic(trial, 2)) <= info.value + 1e-12
            )
