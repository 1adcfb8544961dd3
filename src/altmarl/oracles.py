"""The oracle layer: one interface per player for the best responses of ALTERNATING-MARL.

Algorithm 14 (SPEC §5) alternates two best-response routines:

* a :class:`GlobalOracle` answers a fixed shared local policy ``pi_l`` with a global policy
  (G-LEARN, SPEC §3, is one; the continuous extension's dispatcher step is another);
* a :class:`LocalOracle` answers a fixed global policy ``pi_g`` with a shared local policy
  (the L-LEARN oracles of SPEC §4; TRPO in the continuous extension).

Both return frozen results, :class:`GLearnResult` and :class:`LLearnResult`, that carry the
proposed policy, an :class:`OracleInfo` (the numbers the driver records for every proposal)
and optionally further *alternatives*: candidate policies the oracle offers besides its
answer, judged together with it by UPDATE (e.g. the safeguarded global step). A new
best-response routine is a new class with a ``best_response`` method, not a branch in the
driver.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from altmarl.seeding import Seed

P = TypeVar("P")


@dataclass(frozen=True, kw_only=True)
class OracleInfo:
    """What a best-response oracle reports about one answer (the driver's view).

    value : the oracle's own estimate of its answer's value (its surrogate objective:
        ``mean max_a Qhat`` for G-LEARN, the chained or mean-field value for L-LEARN);
        ``nan`` when it has none.
    samples : generative-model draws or sampled transitions used.
    episodes : episodes simulated (learning oracles).
    iterations : sweeps or optimiser iterations.
    seconds : wall time of the call.

    Oracles subclass it to add their own diagnostics (:class:`~altmarl.glearn.GLearnInfo`).
    """

    value: float = math.nan
    samples: int = 0
    episodes: int = 0
    iterations: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Candidate(Generic[P]):
    """A named candidate policy (or pair) offered to UPDATE."""

    name: str
    policy: P


@dataclass(frozen=True, eq=False)
class GLearnResult(Generic[P]):
    """A global best response: the policy, its ``Q`` table if it has one, and the info.

    q : ``[S_g, |X|, A_g]`` (``Qhat_{k,m}`` for G-LEARN) or ``None``.
    alternatives : further candidate global policies offered to UPDATE (default none).
    """

    q: np.ndarray | None
    policy: P
    info: OracleInfo
    alternatives: tuple[Candidate[P], ...] = ()

    @property
    def value_mean(self) -> float:
        """Mean over ``s_g`` and ``x`` of ``max_a Q`` (a one-number summary)."""
        if self.q is None:
            return math.nan
        return float(self.q.max(axis=-1).mean())


@dataclass(frozen=True, eq=False)
class LLearnResult(Generic[P]):
    """A local best response: the shared local policy and the info.

    alternatives : further candidate local policies offered to UPDATE (default none).
    """

    policy: P
    info: OracleInfo
    alternatives: tuple[Candidate[P], ...] = ()


@dataclass(frozen=True, eq=False)
class PreviousAnswer:
    """The last global answer of a run, as the next global step may use it.

    q : its ``Qhat`` (a warm start for the next value iteration);
    local_fingerprint : :func:`policy_fingerprint` of the local policy it answered (an
        answer to the same question may be reused).
    """

    q: np.ndarray
    local_fingerprint: str


def policy_fingerprint(policy: Any) -> str:
    """A content hash of a local policy's probability table (its ``probs`` array)."""
    probs = np.ascontiguousarray(policy.probs)
    return hashlib.sha256(probs.tobytes()).hexdigest()


@runtime_checkable
class GlobalOracle(Protocol):
    """A global best-response routine: ``pi_g' ~ BR(pi_l)`` seeing ``k`` local agents.

    ``global_policy`` is the incumbent (a starting point or a reference for the answer);
    ``previous`` is the run's last global answer (warm start or reuse), if any.
    """

    def best_response(
        self,
        game: Any,
        local_policy: Any,
        k: int,
        *,
        global_policy: Any | None = None,
        seed: Seed = 0,
        previous: PreviousAnswer | None = None,
    ) -> GLearnResult[Any]: ...


@runtime_checkable
class LocalOracle(Protocol):
    """A best-response routine for the shared local policy: ``pi_l' ~ BR(pi_g)``.

    ``local_policy`` is the incumbent shared policy (the starting point; uniform if None).
    """

    def best_response(
        self,
        game: Any,
        global_policy: Any,
        k: int,
        *,
        local_policy: Any | None = None,
        seed: Seed = 0,
    ) -> LLearnResult[Any]: ...
