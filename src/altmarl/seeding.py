"""Seeds: everything random takes a ``numpy.random.Generator`` or something that makes one.

Nothing in altmarl reads global random state. A routine accepts a :data:`Seed` and turns
it into a generator with :func:`as_generator`; independent streams are spawned from it.
"""

from __future__ import annotations

import numpy as np

#: What every random routine accepts as its seed.
Seed = int | np.random.Generator | np.random.SeedSequence


def as_generator(seed: Seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from any :data:`Seed` (a Generator is used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
