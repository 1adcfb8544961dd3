"""The policy directory: the files a policy pair is saved in and read from.

A policy directory holds ``policy.npz`` (``global_table`` int ``[|S_g|, |X|]``,
``counts`` ``[|C_k|, |S_l|]`` whose row ``r`` is the count vector of column ``r``, plus
``tuples`` (the tuple of column ``r``) for the standard parameterization, and
``local_table`` ``[|S_l|, |S_g|, |A_l|]``) and ``meta.json`` (k, parameterization, game
fingerprint, library version). Loading reads the columns by the stored inputs.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from altmarl._version import __version__
from altmarl.counts import CountSpace, TupleSpace
from altmarl.errors import PolicyError
from altmarl.game import TabularGame
from altmarl.policies import GlobalPolicy, LocalPolicy, check_pair_fits_game

POLICY_FILE = "policy.npz"
META_FILE = "meta.json"


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
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(path / POLICY_FILE)
    meta = {
        "k": global_policy.k,
        "parameterization": global_policy.parameterization,
        "num_global_states": global_policy.num_global_states,
        "num_local_states": global_policy.num_local_states,
        "num_global_actions": global_policy.num_actions,
        "num_local_actions": local_policy.probs.shape[2],
        "game_fingerprint": game_fingerprint,
        "altmarl_version": __version__,
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


def load_policy_dir(path: str | Path, game: TabularGame | None = None) -> PolicyPair:
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
