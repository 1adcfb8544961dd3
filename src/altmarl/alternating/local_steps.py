"""The n-aware local step: the local counterpart of the safeguarded global step.

Every L-LEARN oracle best-responds in a ``k``-agent surrogate (SPEC §4a: the chained MDP
keeps ``k`` replicas; the mean-field oracle a representative agent with ``k``-subsamples),
not in the ``n``-agent system the pair is executed on. Its answer can therefore miss the
best shared policy of the ``n``-agent system (docs/design.md measures it on tiny games), and
a run can stop while that local gap is still open. :class:`NAwareLocal` wraps any
:class:`~altmarl.oracles.LocalOracle` and offers UPDATE more candidates, all of which UPDATE
judges on the ``n``-agent system (exact chain for tiny ``n``, common-random-number rollouts
otherwise, the chosen one on rollouts independent of the comparison's):

* the oracle's answer and its alternatives, and the answers of further oracles (``others``);
* their deterministic projections (the most likely action per ``(s_l, s_g)``);
* for tiny ``n`` (exact chain of at most ``search_states`` states), the best deterministic
  shared policy on the EXACT ``n``-agent value (enumeration of a small class, else
  coordinate ascent from the best of the above).

A superset of candidates can only raise the accepted proposal's value, so Lemma D.15's
bound on the number of accepted steps is unchanged.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace

import numpy as np

from altmarl.exact import chain_size, exact_value
from altmarl.game import TabularGame
from altmarl.oracles import Candidate, LLearnResult, LocalOracle
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.seeding import Seed, as_generator

#: The exact ``n``-agent search runs where the count chain has at most this many states.
SEARCH_STATES = 2000


def deterministic_projection(policy: LocalPolicy) -> LocalPolicy:
    """The deterministic shared policy playing the most likely action of ``policy`` at
    every ``(s_l, s_g)`` (the first on a tie)."""
    probs = policy.probs
    return LocalPolicy.deterministic(probs.argmax(axis=2), probs.shape[2])


def n_agent_search(
    game: TabularGame,
    global_policy: GlobalPolicy,
    start: LocalPolicy,
    n: int,
    k: int,
    max_sweeps: int = 20,
    max_enumerate: int = 4096,
) -> tuple[LocalPolicy, float]:
    """The best deterministic shared policy on the exact ``n``-agent value
    (:func:`~altmarl.exact.exact_value`): by enumeration when there are at most
    ``max_enumerate`` of them, else by coordinate ascent from the projection of ``start``
    (change one ``(s_l, s_g)`` action at a time while the value rises). Tiny ``n`` only."""
    A = game.num_al
    shape = (game.num_sl, game.num_sg)
    if A ** (shape[0] * shape[1]) <= max_enumerate:
        tables = [
            np.reshape(t, shape) for t in itertools.product(range(A), repeat=shape[0] * shape[1])
        ]
        values = [
            exact_value(game, global_policy, LocalPolicy.deterministic(t, A), n, k) for t in tables
        ]
        i = int(np.argmax(values))
        return LocalPolicy.deterministic(tables[i], A), float(values[i])
    acts = start.probs.argmax(axis=2)
    best = exact_value(game, global_policy, LocalPolicy.deterministic(acts, A), n, k)
    for _ in range(max_sweeps):
        improved = False
        for idx in np.ndindex(acts.shape):
            for a in range(A):
                if a == acts[idx]:
                    continue
                trial = acts.copy()
                trial[idx] = a
                val = exact_value(game, global_policy, LocalPolicy.deterministic(trial, A), n, k)
                if val > best + 1e-12:
                    best, acts, improved = val, trial, True
        if not improved:
            break
    return LocalPolicy.deterministic(acts, A), best


def _distinct(cands: list[Candidate[LocalPolicy]]) -> list[Candidate[LocalPolicy]]:
    out: list[Candidate[LocalPolicy]] = []
    for c in cands:
        if not any(np.array_equal(c.policy.probs, o.policy.probs) for o in out):
            out.append(c)
    return out


@dataclass(frozen=True)
class NAwareLocal:
    """A :class:`~altmarl.oracles.LocalOracle` whose answer offers UPDATE the ``n``-aware
    candidates of the module docstring (``n``: the system's number of agents)."""

    inner: LocalOracle
    n: int
    others: tuple[LocalOracle, ...] = ()
    search_states: int = SEARCH_STATES
    max_enumerate: int = 4096

    def candidates(
        self,
        game: TabularGame,
        global_policy: GlobalPolicy,
        k: int,
        *,
        local_policy: LocalPolicy | None = None,
        seed: Seed = 0,
    ) -> tuple[LLearnResult[LocalPolicy], list[Candidate[LocalPolicy]]]:
        """The inner oracle's result and every distinct candidate (its answer first)."""
        rng = as_generator(seed)
        seeds = rng.spawn(1 + len(self.others))
        res = self.inner.best_response(
            game, global_policy, k, local_policy=local_policy, seed=seeds[0]
        )
        found = [Candidate("l-learn", res.policy), *res.alternatives]
        for i, oracle in enumerate(self.others):
            other = oracle.best_response(
                game, global_policy, k, local_policy=local_policy, seed=seeds[i + 1]
            )
            found.append(Candidate(f"l-learn:{type(oracle).__name__}", other.policy))
        found += [
            Candidate(f"{c.name}:deterministic", deterministic_projection(c.policy)) for c in found
        ]
        found = _distinct(found)
        if chain_size(game, self.n) <= self.search_states:
            values = [exact_value(game, global_policy, c.policy, self.n, k) for c in found]
            start = found[int(np.argmax(values))].policy
            searched, _ = n_agent_search(
                game, global_policy, start, self.n, k, max_enumerate=self.max_enumerate
            )
            found = _distinct([*found, Candidate("n-agent-search", searched)])
        return res, found

    def best_response(
        self,
        game: TabularGame,
        global_policy: GlobalPolicy,
        k: int,
        *,
        local_policy: LocalPolicy | None = None,
        seed: Seed = 0,
    ) -> LLearnResult[LocalPolicy]:
        t0 = time.perf_counter()
        res, found = self.candidates(game, global_policy, k, local_policy=local_policy, seed=seed)
        info = replace(res.info, seconds=time.perf_counter() - t0)
        return LLearnResult(found[0].policy, info, tuple(found[1:]))
