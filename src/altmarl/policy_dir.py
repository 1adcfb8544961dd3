"""The policy directory: the files a policy pair is saved in and read from.

A policy directory holds ``policy.npz`` (``global_table`` int ``[|S_g|, |X|]``,
``counts`` ``[|C_k|, |S_l|]`` whose row ``r`` is the count vector of column ``r``, plus
``tuples`` (the tuple of column ``r``) for the standard parameterization, and
``local_table`` ``[|S_l|, |S_g|, |A_l|]``) and ``meta.json`` (k, parameterization, game
fingerprint, library version). Both files are written atomically. Reading checks everything
before building anything: the archive (:mod:`altmarl.arrayfile`), every field of
``meta.json``, the table's width against ``k`` (before the count space is built) and the
game the pair was made for; the table's columns are read by the stored inputs.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from altmarl._version import __version__
from altmarl.arrayfile import read_npz
from altmarl.counts import CountSpace, TupleSpace
from altmarl.errors import AltmarlWarning, GameMismatchError, PolicyError
from altmarl.game import TabularGame
from altmarl.policies import PARAMETERIZATIONS, GlobalPolicy, LocalPolicy, check_pair_fits_game
from altmarl.storage import atomic_write

POLICY_FILE = "policy.npz"
META_FILE = "meta.json"


def policy_files(
    global_policy: GlobalPolicy,
    local_policy: LocalPolicy,
    *,
    game_fingerprint: str | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    """The bytes of ``policy.npz`` and ``meta.json`` for a pair."""
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
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
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
    return {POLICY_FILE: buf.getvalue(), META_FILE: (json.dumps(meta, indent=2) + "\n").encode()}


def save_policy_dir(
    path: str | Path,
    global_policy: GlobalPolicy,
    local_policy: LocalPolicy,
    *,
    game_fingerprint: str | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``policy.npz`` and ``meta.json`` into ``path`` (created if needed), each
    atomically."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    files = policy_files(
        global_policy, local_policy, game_fingerprint=game_fingerprint, extra_meta=extra_meta
    )
    for name, data in files.items():
        atomic_write(path / name, data)
    return path


@dataclass(frozen=True)
class PolicyPair:
    """A joint policy ``(pi_g, pi_l)`` read from a policy directory, with its metadata."""

    global_policy: GlobalPolicy
    local_policy: LocalPolicy
    meta: dict[str, Any]


def _count(meta: dict[str, Any], key: str, label: str) -> int:
    value = meta[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PolicyError(
            f"{label}: {META_FILE} has {key} = {json.dumps(value)}, not an integer >= 1"
        )
    return value


def table_width(k: int, num_local_states: int, parameterization: str) -> int | None:
    """Columns of a global table for ``k`` (``|C_k|`` or ``|S_l|^k``), computed without
    building the space; ``None`` when over ``2**62`` (no table can be that wide)."""
    L = num_local_states
    if parameterization == "standard":
        return L**k if k * math.log2(max(L, 2)) < 62 else None
    # log |C_k| first: an exact binomial of two huge numbers would take minutes
    if math.lgamma(k + L) - math.lgamma(k + 1) - math.lgamma(L) > 62 * math.log(2):
        return None
    return math.comb(k + L - 1, L - 1)


def read_meta(path: Path, label: str) -> dict[str, Any]:
    """``meta.json`` as a checked dict: ``k``, ``num_local_states``, ``num_global_actions``
    are integers >= 1 and ``parameterization`` is one of :data:`PARAMETERIZATIONS`."""
    try:
        meta = json.loads((path / META_FILE).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PolicyError(f"{label}: {META_FILE} is not readable JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise PolicyError(f"{label}: {META_FILE} must hold a JSON object")
    for key in ("k", "parameterization", "num_global_actions", "num_local_states"):
        if key not in meta:
            raise PolicyError(f"{label}: {META_FILE} lacks {key!r}")
    for key in ("k", "num_global_actions", "num_local_states"):
        _count(meta, key, label)
    if meta["parameterization"] not in PARAMETERIZATIONS:
        raise PolicyError(
            f"{label}: {META_FILE} has parameterization {json.dumps(meta['parameterization'])}, "
            f"not one of {', '.join(PARAMETERIZATIONS)}"
        )
    fp = meta.get("game_fingerprint")
    if fp is not None and not isinstance(fp, str):
        raise PolicyError(f"{label}: {META_FILE} has a game_fingerprint that is not text")
    return meta


def load_policy_dir(
    path: str | Path,
    game: TabularGame | None = None,
    *,
    allow_other_game: bool = False,
    flag: str = "--policy-dir",
) -> PolicyPair:
    """Read a policy directory; with ``game``, check the shapes and the game it was made for.

    The global table's columns are read by the inputs the file stores beside them
    (``counts`` for mean-field, ``tuples`` for standard), not by position: a file written
    under another column order is re-mapped to the current one, and a file whose inputs
    do not list every count vector (tuple) exactly once is refused.
    A pair made for another game (its fingerprint differs) is refused with
    :class:`~altmarl.errors.GameMismatchError` unless ``allow_other_game`` (then a warning).
    Every error names ``flag`` and ``path``.
    """
    path = Path(path)
    label = f"{flag} {path}"
    if not (path / POLICY_FILE).is_file() or not (path / META_FILE).is_file():
        raise PolicyError(f"{label}: needs {POLICY_FILE} and {META_FILE}")
    meta = read_meta(path, label)
    arrays = read_npz(path / POLICY_FILE, f"{label}: {POLICY_FILE}", error=PolicyError)
    inputs = "tuples" if meta["parameterization"] == "standard" else "counts"
    for key in ("global_table", "local_table", inputs):
        if key not in arrays:
            raise PolicyError(f"{label}: {POLICY_FILE} lacks {key!r}")
    table, local = arrays["global_table"], arrays["local_table"]
    k, L = meta["k"], meta["num_local_states"]
    width = table_width(k, L, meta["parameterization"])
    if table.ndim != 2 or table.shape[1] != width:
        need = f"[S_g, {width}]" if width is not None else "more than 2**62 columns"
        raise PolicyError(
            f"{label}: global_table has shape {table.shape}; k = {k} with {L} local states "
            f"needs {need} ({meta['parameterization']})"
        )
    try:
        pi_g = GlobalPolicy(table, k, L, meta["num_global_actions"], meta["parameterization"])
        columns = _stored_columns(path / POLICY_FILE, inputs, arrays[inputs], pi_g.space)
        if not np.array_equal(columns, np.arange(columns.size)):
            remapped = np.empty_like(pi_g.table)
            remapped[:, columns] = pi_g.table
            pi_g = GlobalPolicy(
                remapped, pi_g.k, pi_g.num_local_states, pi_g.num_actions, pi_g.parameterization
            )
        pi_l = LocalPolicy(local)
        if game is not None:
            check_pair_fits_game(pi_g, pi_l, game)
    except PolicyError as exc:
        raise PolicyError(f"{label}: {exc}") from None
    fp = meta.get("game_fingerprint")
    if game is not None and fp and fp != game.fingerprint:
        msg = (
            f"{label} was made for another game (fingerprint {fp}), not {game.name} "
            f"({game.fingerprint})"
        )
        if not allow_other_game:
            raise GameMismatchError(f"{msg}; pass --allow-other-game to use it anyway")
        warnings.warn(msg, AltmarlWarning, stacklevel=2)
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


def check_policy_out(path: Path, force: bool, flag: str = "--out") -> None:
    """Refuse to write a policy directory over existing files (unless ``force``) or over a
    file; callers check this before computing anything."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PolicyError(f"{flag} {path} is a file, not a directory")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise PolicyError(
            f"{flag} {path} already exists and is not empty; pass --force to overwrite its "
            "policy files, or choose another directory"
        )
