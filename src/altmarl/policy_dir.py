"""The policy directory: the files a policy pair is saved in and read from.

A policy directory holds ``policy.npz`` (``global_table`` int ``[|S_g|, |X|]``,
``counts`` ``[|C_k|, |S_l|]`` whose row ``r`` is the count vector of rank ``r``, plus
``tuples`` for the standard parameterization, and ``local_table``
``[|S_l|, |S_g|, |A_l|]``) and ``meta.json`` (k, parameterization, game fingerprint,
library version).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from altmarl._version import __version__
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
    """Read a policy directory; with ``game``, check shapes (error) and fingerprint (warn)."""
    path = Path(path)
    if not (path / POLICY_FILE).is_file() or not (path / META_FILE).is_file():
        raise PolicyError(f"--policy-dir {path}: needs {POLICY_FILE} and {META_FILE}")
    try:
        meta = json.loads((path / META_FILE).read_text())
        with np.load(path / POLICY_FILE, allow_pickle=False) as data:
            table = data["global_table"]
            local = data["local_table"]
    except (OSError, ValueError, KeyError) as exc:
        raise PolicyError(f"--policy-dir {path}: unreadable policy files ({exc})") from None
    for key in ("k", "parameterization", "num_global_actions", "num_local_states"):
        if key not in meta:
            raise PolicyError(f"--policy-dir {path}: {META_FILE} lacks {key!r}")
    pi_g = GlobalPolicy(
        table,
        int(meta["k"]),
        int(meta["num_local_states"]),
        int(meta["num_global_actions"]),
        meta["parameterization"],
    )
    pi_l = LocalPolicy(local)
    if game is not None:
        check_pair_fits_game(pi_g, pi_l, game)
        fp = meta.get("game_fingerprint")
        if fp and fp != game.fingerprint:
            warnings.warn(
                f"policy in {path} was made for game {fp}, not {game.fingerprint}",
                stacklevel=2,
            )
    return PolicyPair(pi_g, pi_l, meta)
