"""The common sampler of next count vectors (``glearn/sampling.py``) against its definition."""

from __future__ import annotations

import itertools

import numpy as np

from altmarl.counts import CountSpace
from altmarl.glearn.sampling import _destinations, sample_mean_field_common
from glearn_helpers import tiny


def test_common_sampler_follows_its_definition():
    """next_index[s, c, j] is the rank of the count vector of the destinations of the first
    c_i common draws of every bin i (sampling.py's definition), for the run-by-run kernel,
    at every number of local states (one bin, two bins: one run; more: many runs)."""
    for k, L in ((3, 1), (6, 2), (5, 3), (7, 5)):
        game, local = tiny(20 + L, S_l=L)
        p_bar, _ = game.averaged_local(local.probs)
        space, m, S = CountSpace(k, L), 3, game.num_sg
        nxt = sample_mean_field_common(space, p_bar, m, np.random.default_rng(4))
        dest = _destinations(p_bar, np.random.default_rng(4), (S, m, L, k))
        counts = space.all()
        expect = np.empty_like(nxt)
        for s, x, j in itertools.product(range(S), range(space.size), range(m)):
            moved = [np.bincount(dest[s, j, i, : counts[x, i]], minlength=L) for i in range(L)]
            expect[s, x, j] = space.rank(np.sum(moved, axis=0))
        np.testing.assert_array_equal(nxt, expect)
