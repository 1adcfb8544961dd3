"""Policy classes of SPEC §2 and the policy directory format.

* :class:`GlobalPolicy`: deterministic, sees ``s_g`` and the states of ``k`` sampled
  local agents, either as a count vector (mean-field parameterization, table
  ``[S_g, |C_k|]``) or as an ordered ``k``-tuple (standard parameterization, table
  ``[S_g, S_l^k]``).
* :class:`UniformGlobalPolicy`: the uniformly random dispatcher (a baseline).
* :class:`LocalPolicy`: ONE stochastic policy shared by all local agents,
  ``probs[s_l, s_g, a_l]``.

A policy directory holds ``policy.npz`` (``global_table``, ``counts`` or ``tuples``,
``local_table``) and ``meta.json`` (k, parameterization, game fingerprint, version).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

from altmarl.counts import CountSpace, TupleSpace, random_tuples
from altmarl.errors import PolicyError

Parameterization = Literal["mean-field", "standard"]
PARAMETERIZATIONS: tuple[str, ...] = ("mean-field", "standard")


@runtime_checkable
class GlobalActor(Protocol):
    """Anything that picks ``a_g`` from ``s_g`` and the subsample's counts (Algorithm 5)."""

    def act(self, s_g: np.ndarray, sub_counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``s_g: [R]``, ``sub_counts: [R, S_l]`` (each row sums to k) -> ``a_g: [R]``."""
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
        return self.table.shape[0]

    def act(self, s_g: np.ndarray, sub_counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``a_g = pi_g(s_g, counts)``; a standard policy reads a uniformly random ordering
        of the sampled states (agents are exchangeable, so this is online execution)."""
        if self.parameterization == "mean-field":
            col = self._space.rank(sub_counts)
        else:
            col = self._space.index(random_tuples(sub_counts, rng))
        return self.table[np.asarray(s_g), col]

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
        return self.probs.shape  # type: ignore[return-value]

    def check_game(self, num_local_states: int, num_global_states: int, num_actions: int) -> None:
        want = (num_local_states, num_global_states, num_actions)
        if self.probs.shape != want:
            raise PolicyError(f"local policy shape {self.probs.shape} does not fit the game {want}")


# ---------------------------------------------------------------------- policy directory

POLICY_FILE = "policy.npz"
META_FILE = "meta.json"


def _version() -> str:
    from altmarl import __version__

    return __version__


def save_policy_dir(
    path: str | Path,
    global_policy: GlobalPolicy,
    local_policy: LocalPolicy,
    *,
    game_fingerprint: str | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``policy.npz`` and ``meta.json`` into ``path`` (created if needed)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "global_table": global_policy.table,
        "local_table": local_policy.probs,
    }
    space = global_policy.space
    if global_policy.parameterization == "mean-field":
        arrays["counts"] = space.all()
    else:
        arrays["tuples"] = space.all()
        arrays["counts"] = space.counts(np.arange(space.size))  # type: ignore[union-attr]
    tmp = path / (POLICY_FILE + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path / POLICY_FILE)
    meta = {
        "k": global_policy.k,
        "parameterization": global_policy.parameterization,
        "num_global_states": global_policy.num_global_states,
        "num_local_states": global_policy.num_local_states,
        "num_global_actions": global_policy.num_actions,
        "num_local_actions": local_policy.probs.shape[2],
        "game_fingerprint": game_fingerprint,
        "altmarl_version": _version(),
        **(extra_meta or {}),
    }
    (path / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return path


@dataclass(frozen=True)
class PolicyPair:
    """A joint policy ``(pi_g, pi_l)`` read from a policy directory, with its metadata."""

    global_policy: GlobalPolicy
    local_policy: LocalPolicy
    meta: dict[str, Any]


def load_policy_dir(path: str | Path, game: Any | None = None) -> PolicyPair:
    """Read a policy directory; with ``game``, check shapes (error) and fingerprint (warn).

    The global table's columns are read by the inputs the file stores beside them
    (``counts`` for mean-field, ``tuples`` for standard), not by position: a file written
    under another column order is re-mapped to the current one, and a file whose inputs
    do not list every count vector (tuple) exactly once is refused.
    """
    path = Path(path)
    if not (path / POLICY_FILE).is_file() or not (path / META_FILE).is_file():
        raise PolicyError(f"--policy-dir {path}: needs {POLICY_FILE} and {META_FILE}")
    try:
        meta = json.loads((path / META_FILE).read_text())
        with np.load(path / POLICY_FILE, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise PolicyError(f"--policy-dir {path}: unreadable policy files ({exc})") from None
    for key in ("k", "parameterization", "num_global_actions", "num_local_states"):
        if key not in meta:
            raise PolicyError(f"--policy-dir {path}: {META_FILE} lacks {key!r}")
    inputs = "tuples" if meta["parameterization"] == "standard" else "counts"
    for key in ("global_table", "local_table", inputs):
        if key not in arrays:
            raise PolicyError(f"--policy-dir {path}: {POLICY_FILE} lacks {key!r}")
    pi_g = GlobalPolicy(
        arrays["global_table"],
        int(meta["k"]),
        int(meta["num_local_states"]),
        int(meta["num_global_actions"]),
        meta["parameterization"],
    )
    columns = _stored_columns(path / POLICY_FILE, inputs, arrays[inputs], pi_g.space)
    if not np.array_equal(columns, np.arange(columns.size)):
        table = np.empty_like(pi_g.table)
        table[:, columns] = pi_g.table
        pi_g = GlobalPolicy(
            table, pi_g.k, pi_g.num_local_states, pi_g.num_actions, pi_g.parameterization
        )
    pi_l = LocalPolicy(arrays["local_table"])
    if game is not None:
        check_pair_fits_game(pi_g, pi_l, game)
        fp = meta.get("game_fingerprint")
        if fp and fp != game.fingerprint:
            warnings.warn(
                f"policy in {path} was made for game {fp}, not {game.fingerprint}",
                stacklevel=2,
            )
    return PolicyPair(pi_g, pi_l, meta)


def _stored_columns(
    file: Path, key: str, stored: np.ndarray, space: CountSpace | TupleSpace
) -> np.ndarray:
    """Current column of each stored table column, from the inputs stored beside it
    (``counts [|C_k|, S_l]`` or ``tuples [S_l^k, k]``); refuses inputs that are not an
    enumeration of the space (each element exactly once)."""
    width = space.num_states if isinstance(space, CountSpace) else space.k
    where = f"{file}: {key!r}"
    if stored.shape != (space.size, width) or not np.issubdtype(stored.dtype, np.integer):
        raise PolicyError(
            f"{where} must be an integer array of shape {(space.size, width)} "
            f"(k={space.k}, |S_l|={space.num_states}); got {stored.dtype} {stored.shape}"
        )
    if isinstance(space, CountSpace):
        bad = (stored < 0).any(axis=1) | (stored.sum(axis=1) != space.k)
        rule = f"non-negative counts summing to k = {space.k}"
    else:
        bad = ((stored < 0) | (stored >= space.num_states)).any(axis=1)
        rule = f"local states in [0, {space.num_states})"
    if bad.any():
        row = int(np.argmax(bad))
        raise PolicyError(f"{where} row {row} = {stored[row].tolist()} is not {rule}")
    columns = space.rank(stored) if isinstance(space, CountSpace) else space.index(stored)
    seen = np.zeros(space.size, dtype=bool)
    seen[columns] = True
    if not seen.all():
        first = int(np.argmin(seen))
        missing = (
            space.unrank(first) if isinstance(space, CountSpace) else space.tuples(first)
        ).tolist()
        raise PolicyError(
            f"{where} lists some inputs twice and misses {missing}: the table's columns "
            "cannot be matched to the policy's inputs"
        )
    return columns


def check_pair_fits_game(pi_g: GlobalPolicy, pi_l: LocalPolicy, game: Any) -> None:
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
