"""Policy classes of SPEC §2 and the policy directory format.

* :class:`GlobalPolicy`: deterministic, sees ``s_g`` and the states of ``k`` sampled
  local agents, either as a count vector (mean-field parameterization, table
  ``[S_g, |C_k|]``) or as an ordered ``k``-tuple (standard parameterization, table
  ``[S_g, S_l^k]``).
* :class:`UniformGlobalPolicy`: the uniformly random dispatcher (a baseline).
* :class:`LocalPolicy`: ONE stochastic policy shared by all local agents,
  ``probs[s_l, s_g, a_l]``.

Policy directories (the files a pair is saved in) are :mod:`altmarl.policy_dir`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

from altmarl.counts import CountSpace, TupleSpace, random_tuples
from altmarl.errors import PolicyError
from altmarl.game import TabularGame

Parameterization = Literal["mean-field", "standard"]
PARAMETERIZATIONS: tuple[str, ...] = ("mean-field", "standard")


@runtime_checkable
class GlobalActor(Protocol):
    """Anything that picks ``a_g`` from ``s_g`` and the subsample's counts (Algorithm 5)."""

    def act(self, s_g: np.ndarray, sub_counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``s_g: [R]``, ``sub_counts: [R, S_l]`` (each row sums to k) -> ``a_g: [R]``."""
        ...

    def action_law(self, counts: ArrayLike, num_global_states: int | None = None) -> np.ndarray:
        """``[S_g, M, A_g]``: the law of ``a_g`` given ``s_g`` and ``counts [M, S_l]``."""
        ...


@dataclass(frozen=True, eq=False)
class GlobalPolicy:
    """Deterministic global policy ``pi_g(s_g, c)`` or ``pi_g(s_g, s_Delta)`` (SPEC §2).

    table : int ``[S_g, |C_k|]`` (mean-field, columns in :class:`CountSpace` rank order)
        or ``[S_g, S_l^k]`` (standard, columns in :class:`TupleSpace` index order).
    """

    table: np.ndarray
    k: int
    num_local_states: int
    num_actions: int
    parameterization: Parameterization = "mean-field"
    _space: CountSpace | TupleSpace = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.parameterization not in PARAMETERIZATIONS:
            raise PolicyError(
                f"parameterization {self.parameterization!r} must be one of {PARAMETERIZATIONS}"
            )
        space: CountSpace | TupleSpace = (
            CountSpace(self.k, self.num_local_states)
            if self.parameterization == "mean-field"
            else TupleSpace(self.k, self.num_local_states)
        )
        table = np.asarray(self.table)
        if table.ndim != 2 or table.shape[1] != space.size:
            raise PolicyError(
                f"global table must have shape [S_g, {space.size}] for k={self.k}, "
                f"|S_l|={self.num_local_states} ({self.parameterization}); got {table.shape}"
            )
        if not np.issubdtype(table.dtype, np.integer):
            if not np.all(table == np.round(table)):
                raise PolicyError("global table must hold integer actions")
        table = table.astype(np.int64)
        if table.size and (table.min() < 0 or table.max() >= self.num_actions):
            raise PolicyError(
                f"global table actions must lie in [0, {self.num_actions}); "
                f"found {table.min()}..{table.max()}"
            )
        table.setflags(write=False)
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "_space", space)

    @classmethod
    def constant(
        cls,
        action: int,
        *,
        num_global_states: int,
        num_actions: int,
        k: int,
        num_local_states: int,
        parameterization: Parameterization = "mean-field",
    ) -> GlobalPolicy:
        """The policy that always plays ``action`` (a baseline and a starting point)."""
        space = (
            CountSpace(k, num_local_states)
            if parameterization == "mean-field"
            else TupleSpace(k, num_local_states)
        )
        if not 0 <= action < num_actions:
            raise PolicyError(f"constant action {action} must lie in [0, {num_actions})")
        table = np.full((num_global_states, space.size), action, dtype=np.int64)
        return cls(table, k, num_local_states, num_actions, parameterization)

    @property
    def space(self) -> CountSpace | TupleSpace:
        return self._space

    @property
    def num_global_states(self) -> int:
        return int(self.table.shape[0])

    def act(self, s_g: np.ndarray, sub_counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``a_g = pi_g(s_g, counts)``; a standard policy reads a uniformly random ordering
        of the sampled states (agents are exchangeable, so this is online execution)."""
        space = self._space
        if isinstance(space, CountSpace):
            col = space.rank(sub_counts)
        else:
            col = space.index(random_tuples(sub_counts, rng))
        return np.asarray(self.table[np.asarray(s_g), col])

    def action_law(self, counts: ArrayLike, num_global_states: int | None = None) -> np.ndarray:
        """``q[s_g, m, a_g]``: the law of ``a_g`` given ``s_g`` and the sampled counts
        ``counts[m]`` (``[M, S_l]``, each summing to ``k``) under online execution (SPEC §6).

        One-hot for a mean-field policy; a standard policy reads a uniformly random ordering
        of the sample, so its law at ``c`` is its table's action frequencies over the
        orderings of ``c``. ``num_global_states``, if given, must be this policy's.
        """
        if num_global_states is not None and num_global_states != self.num_global_states:
            raise PolicyError(
                f"the global policy has {self.num_global_states} global states, "
                f"not {num_global_states}"
            )
        c = np.asarray(counts, dtype=np.int64)
        A = self.num_actions
        space = self._space
        if isinstance(space, CountSpace):
            return np.asarray(np.eye(A)[self.table[:, space.rank(c)]])
        ranks = CountSpace(self.k, self.num_local_states).rank(c)
        return np.asarray(self._ordering_law[:, ranks, :])

    @functools.cached_property
    def _ordering_law(self) -> np.ndarray:
        """``[S_g, |C_k|, A_g]`` action frequencies of a standard table over the orderings
        of each count vector (computed once per policy)."""
        ts = self._space
        assert isinstance(ts, TupleSpace)
        cs = CountSpace(self.k, self.num_local_states)
        tuple_rank = cs.rank(ts.counts(np.arange(ts.size)))
        freq = np.zeros((self.num_global_states, cs.size, self.num_actions))
        for g in range(self.num_global_states):
            np.add.at(freq[g], (tuple_rank, self.table[g]), 1.0)
        freq /= freq.sum(axis=2, keepdims=True).clip(min=1.0)
        return freq

    def to_mean_field(self) -> GlobalPolicy:
        """Mean-field form of a permutation-invariant standard policy (errors otherwise)."""
        if self.parameterization == "mean-field":
            return self
        assert isinstance(self._space, TupleSpace)
        cs = CountSpace(self.k, self.num_local_states)
        tuple_ranks = cs.rank(self._space.counts(np.arange(self._space.size)))
        out = np.full((self.num_global_states, cs.size), -1, dtype=np.int64)
        out[:, tuple_ranks] = self.table
        if not np.array_equal(out[:, tuple_ranks], self.table):
            raise PolicyError("standard policy is not permutation invariant")
        return GlobalPolicy(out, self.k, self.num_local_states, self.num_actions)


@dataclass(frozen=True)
class UniformGlobalPolicy:
    """The dispatcher that picks ``a_g`` uniformly at random each step (a baseline)."""

    num_actions: int

    def act(self, s_g: np.ndarray, sub_counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.num_actions, size=np.shape(s_g))

    def action_law(self, counts: ArrayLike, num_global_states: int | None = None) -> np.ndarray:
        """``[S_g, M, A_g]`` uniform laws (``num_global_states`` is required here)."""
        if num_global_states is None:
            raise PolicyError("the uniform dispatcher needs num_global_states for its law")
        M = np.asarray(counts).shape[0]
        return np.full((num_global_states, M, self.num_actions), 1.0 / self.num_actions)


@dataclass(frozen=True, eq=False)
class LocalPolicy:
    """The shared local policy ``pi_l(a_l | s_l, s_g)``, ``probs[s_l, s_g, a_l]`` (SPEC §2)."""

    probs: np.ndarray

    def __post_init__(self) -> None:
        p = np.array(self.probs, dtype=np.float64)
        if p.ndim != 3:
            raise PolicyError(f"local policy must have shape [S_l, S_g, A_l], got {p.shape}")
        if not np.isfinite(p).all():
            raise PolicyError("local policy has non-finite entries")
        if (p < 0).any():
            idx = tuple(int(i) for i in np.argwhere(p < 0)[0])
            raise PolicyError(f"local policy probs{list(idx)} = {p[idx]:.6g} is negative")
        sums = p.sum(-1)
        off = np.abs(sums - 1) > 1e-9
        if off.any():
            idx = tuple(int(i) for i in np.argwhere(off)[0])
            raise PolicyError(
                f"local policy row probs[{idx[0]}, {idx[1]}, :] sums to {sums[idx]:.12g}, "
                "must sum to 1 within 1e-9"
            )
        p.setflags(write=False)
        object.__setattr__(self, "probs", p)

    @classmethod
    def uniform(
        cls, num_local_states: int, num_global_states: int, num_actions: int
    ) -> LocalPolicy:
        return cls(np.full((num_local_states, num_global_states, num_actions), 1.0 / num_actions))

    @classmethod
    def deterministic(cls, actions: ArrayLike, num_actions: int) -> LocalPolicy:
        """From an action table ``[S_l, S_g]``."""
        a = np.asarray(actions, dtype=np.int64)
        if a.ndim != 2:
            raise PolicyError(f"action table must have shape [S_l, S_g], got {a.shape}")
        if a.size and (a.min() < 0 or a.max() >= num_actions):
            raise PolicyError(f"actions must lie in [0, {num_actions})")
        return cls(np.eye(num_actions)[a])

    @property
    def shape(self) -> tuple[int, int, int]:
        S_l, S_g, A_l = self.probs.shape
        return int(S_l), int(S_g), int(A_l)

    def check_game(self, num_local_states: int, num_global_states: int, num_actions: int) -> None:
        want = (num_local_states, num_global_states, num_actions)
        if self.probs.shape != want:
            raise PolicyError(f"local policy shape {self.probs.shape} does not fit the game {want}")


def check_pair_fits_game(pi_g: GlobalPolicy, pi_l: LocalPolicy, game: TabularGame) -> None:
    """Shapes of a policy pair against a :class:`~altmarl.game.TabularGame`."""
    if pi_g.num_global_states != game.num_sg or pi_g.num_actions != game.num_ag:
        raise PolicyError(
            f"global policy is for |S_g|={pi_g.num_global_states}, |A_g|={pi_g.num_actions}; "
            f"the game has |S_g|={game.num_sg}, |A_g|={game.num_ag}"
        )
    if pi_g.num_local_states != game.num_sl:
        raise PolicyError(
            f"global policy counts {pi_g.num_local_states} local states; the game has {game.num_sl}"
        )
    pi_l.check_game(game.num_sl, game.num_sg, game.num_al)
