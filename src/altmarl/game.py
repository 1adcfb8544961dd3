"""The tabular game of one global agent and ``n`` homogeneous local agents (SPEC §1).

Arrays follow the SPEC's shapes::

    P_g[s_g, a_g, s_g']          global transition kernel
    P_l[s_l, s_g, a_l, s_l']     local transition kernel (uses the CURRENT s_g)
    r_g[s_g, a_g]                global reward, 0 <= r_g   (Assumption 2.2)
    r_l[s_l, s_g, a_l]           local reward, 0 <= r_l    (Assumption 2.2)

The number of local agents ``n`` is not part of the game: the same game is executed
with any ``n`` and any subsample size ``k <= n``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from altmarl.arrayfile import read_npz
from altmarl.errors import GameValidationError

#: Tolerance on the sum of a probability row (SPEC: "a row not summing to 1 within 1e-9").
ROW_SUM_TOL = 1e-9
#: Largest value bound ``r_max / (1 - gamma)`` accepted: values, their squares (variances)
#: and sums over many rollouts must stay finite in float64 (whose largest number is 1.8e308).
MAX_VALUE_BOUND = 1e150

_NPZ_REQUIRED = ("P_g", "P_l", "r_g", "r_l", "gamma")
_NPZ_OPTIONAL = ("rho_g", "rho_l", "dirichlet_alpha")


def _fmt_index(idx: tuple[int, ...]) -> str:
    return ", ".join(str(int(i)) for i in idx)


def _as_float_array(name: str, value: ArrayLike, ndim: int) -> np.ndarray:
    if np.iscomplexobj(value):
        raise GameValidationError(f"{name} holds complex numbers; it must be real")
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise GameValidationError(f"{name} must be a numeric array ({exc})") from None
    if arr.ndim != ndim:
        raise GameValidationError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise GameValidationError(
            f"{name}[{_fmt_index(idx)}] = {arr[idx]} is not finite (every entry must be finite)"
        )
    return arr


def _check_distribution_rows(name: str, arr: np.ndarray) -> None:
    """Each slice along the last axis is a probability vector."""
    neg = arr < 0
    if neg.any():
        idx = tuple(np.argwhere(neg)[0])
        raise GameValidationError(
            f"{name}[{_fmt_index(idx)}] = {arr[idx]:.6g} is a negative probability "
            "(probabilities must be >= 0)"
        )
    sums = arr.sum(axis=-1)
    off = np.abs(sums - 1.0) > ROW_SUM_TOL
    if off.any():
        idx = tuple(np.argwhere(off)[0]) if sums.ndim else ()
        where = f"{name}[{_fmt_index(idx)}, :]" if idx else name
        raise GameValidationError(
            f"{where} sums to {float(sums[idx]):.12g}; "
            f"each distribution must sum to 1 within {ROW_SUM_TOL:g}"
        )


def _check_reward(name: str, arr: np.ndarray) -> None:
    neg = arr < 0
    if neg.any():
        idx = tuple(np.argwhere(neg)[0])
        raise GameValidationError(
            f"{name}[{_fmt_index(idx)}] = {arr[idx]:.6g} is negative: Assumption 2.2 needs "
            f"0 <= {name}; shift it by a constant (e.g. {name} - {name}.min()), "
            "which moves every policy's value equally and keeps all rankings"
        )


def _as_gamma(gamma: object) -> float:
    """The discount as a float in (0, 1): a real number, not text, a flag or complex."""
    value = np.asarray(gamma)
    if value.ndim != 0 or value.dtype.kind not in "iuf":
        raise GameValidationError(f"gamma must be a real number, got {gamma!r}")
    g = float(value)
    if not (0.0 < g < 1.0):
        raise GameValidationError(f"gamma = {g} must lie in the open interval (0, 1)")
    return g


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def _check_shapes(
    P_g: np.ndarray, P_l: np.ndarray, r_g: np.ndarray, r_l: np.ndarray
) -> tuple[int, int, int, int]:
    """The sizes ``(S_g, A_g, S_l, A_l)``, once the four arrays agree on them (SPEC §1)."""
    S_g, A_g, S_g2 = P_g.shape
    if S_g2 != S_g:
        raise GameValidationError(
            f"P_g must have shape [S_g, A_g, S_g]; got {P_g.shape} (first and last differ)"
        )
    S_l, S_g3, A_l, S_l2 = P_l.shape
    if S_l2 != S_l or S_g3 != S_g:
        raise GameValidationError(
            f"P_l must have shape [S_l, S_g, A_l, S_l] = [S_l, {S_g}, A_l, S_l]; got {P_l.shape}"
        )
    if min(S_g, A_g, S_l, A_l) < 1:
        raise GameValidationError("every state and action set must be non-empty")
    if r_g.shape != (S_g, A_g):
        raise GameValidationError(f"r_g must have shape [S_g, A_g] = {(S_g, A_g)}, got {r_g.shape}")
    if r_l.shape != (S_l, S_g, A_l):
        raise GameValidationError(
            f"r_l must have shape [S_l, S_g, A_l] = {(S_l, S_g, A_l)}, got {r_l.shape}"
        )
    return S_g, A_g, S_l, A_l


def _initial_global_law(rho_g: ArrayLike | None, S_g: int) -> np.ndarray:
    """``rho_g: [S_g]``, validated, or uniform when omitted."""
    if rho_g is None:
        return np.full(S_g, 1.0 / S_g)
    rho_g_arr = _as_float_array("rho_g", rho_g, 1)
    if rho_g_arr.shape != (S_g,):
        raise GameValidationError(f"rho_g must have shape [S_g] = ({S_g},), got {rho_g_arr.shape}")
    _check_distribution_rows("rho_g", rho_g_arr)
    return rho_g_arr


def _initial_local_laws(
    rho_l: ArrayLike | None, dirichlet_alpha: ArrayLike | float | None, S_l: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The local initializer as ``(rho_l [S_l] or None, dirichlet_alpha [S_l] or None)``.

    Exactly one is set (SPEC §7 G.1): a fixed ``rho_l``, uniform when neither is given,
    or a Dirichlet concentration (a scalar is broadcast to every local state).
    """
    if rho_l is not None and dirichlet_alpha is not None:
        raise GameValidationError(
            "give at most one local initializer: rho_l (fixed) or dirichlet_alpha (random)"
        )
    if dirichlet_alpha is not None:
        alpha_arr = _as_float_array("dirichlet_alpha", np.atleast_1d(dirichlet_alpha), 1)
        if alpha_arr.size == 1:
            alpha_arr = np.full(S_l, alpha_arr[0])
        if alpha_arr.shape != (S_l,):
            raise GameValidationError(
                f"dirichlet_alpha must be a scalar or have shape [S_l] = ({S_l},), "
                f"got shape {alpha_arr.shape}"
            )
        if (alpha_arr <= 0).any():
            raise GameValidationError("dirichlet_alpha entries must be > 0")
        return None, alpha_arr
    if rho_l is not None:
        rho_l_arr = _as_float_array("rho_l", rho_l, 1)
        if rho_l_arr.shape != (S_l,):
            raise GameValidationError(
                f"rho_l must have shape [S_l] = ({S_l},), got {rho_l_arr.shape}"
            )
        _check_distribution_rows("rho_l", rho_l_arr)
        return rho_l_arr, None
    return np.full(S_l, 1.0 / S_l), None


@dataclass(frozen=True, eq=False)
class TabularGame:
    """A validated tabular game (SPEC §1, Assumptions 2.1 and 2.2).

    Parameters
    ----------
    P_g : [S_g, A_g, S_g] global transition kernel.
    P_l : [S_l, S_g, A_l, S_l] local transition kernel.
    r_g : [S_g, A_g] non-negative global reward.
    r_l : [S_l, S_g, A_l] non-negative local reward.
    gamma : discount in (0, 1).
    rho_g : [S_g] initial global-state distribution (uniform if omitted).
    rho_l : [S_l] fixed initial local-state distribution; agents start i.i.d. from it.
    dirichlet_alpha : [S_l] Dirichlet concentration; if given, each episode first draws
        ``rho ~ Dirichlet(alpha)`` and then the agents i.i.d. from ``rho`` (SPEC §7 G.1).
        Exactly one of ``rho_l`` and ``dirichlet_alpha`` is used; with neither, ``rho_l``
        is uniform.
    name : a label for reports.
    """

    P_g: np.ndarray
    P_l: np.ndarray
    r_g: np.ndarray
    r_l: np.ndarray
    gamma: float
    rho_g: np.ndarray
    rho_l: np.ndarray | None = None
    dirichlet_alpha: np.ndarray | None = None
    name: str = "game"
    _fingerprint: str = field(default="", repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        *,
        P_g: ArrayLike,
        P_l: ArrayLike,
        r_g: ArrayLike,
        r_l: ArrayLike,
        gamma: float | ArrayLike,
        rho_g: ArrayLike | None = None,
        rho_l: ArrayLike | None = None,
        dirichlet_alpha: ArrayLike | float | None = None,
        name: str = "game",
    ) -> TabularGame:
        """Validate the arrays once and build the game (errors name array, index and rule)."""
        P_g = _as_float_array("P_g", P_g, 3)
        P_l = _as_float_array("P_l", P_l, 4)
        r_g = _as_float_array("r_g", r_g, 2)
        r_l = _as_float_array("r_l", r_l, 3)
        S_g, _, S_l, _ = _check_shapes(P_g, P_l, r_g, r_l)
        _check_distribution_rows("P_g", P_g)
        _check_distribution_rows("P_l", P_l)
        _check_reward("r_g", r_g)
        _check_reward("r_l", r_l)
        gamma = _as_gamma(gamma)
        with np.errstate(over="ignore"):
            bound = (float(r_g.max()) + float(r_l.max())) / (1.0 - gamma)
        if not bound <= MAX_VALUE_BOUND:
            raise GameValidationError(
                f"r_max / (1 - gamma) = {bound:.3g} exceeds {MAX_VALUE_BOUND:g}: values would "
                "overflow float64; rescale r_g and r_l (a common factor changes no ranking)"
            )
        rho_g_arr = _initial_global_law(rho_g, S_g)
        rho_l_arr, alpha_arr = _initial_local_laws(rho_l, dirichlet_alpha, S_l)
        arrays = {
            "P_g": P_g,
            "P_l": P_l,
            "r_g": r_g,
            "r_l": r_l,
            "rho_g": rho_g_arr,
            "rho_l": rho_l_arr,
            "dirichlet_alpha": alpha_arr,
        }
        readonly = {k: (None if v is None else _readonly(v)) for k, v in arrays.items()}
        return cls(
            **readonly,  # type: ignore[arg-type]  # the optional initializers may be None
            gamma=gamma,
            name=name,
            _fingerprint=_fingerprint(arrays, gamma),
        )

    @classmethod
    def from_callables(
        cls,
        *,
        num_global_states: int,
        num_global_actions: int,
        num_local_states: int,
        num_local_actions: int,
        global_transition: Callable[[int, int], ArrayLike],
        local_transition: Callable[[int, int, int], ArrayLike],
        global_reward: Callable[[int, int], float],
        local_reward: Callable[[int, int, int], float],
        gamma: float,
        **initializer: Any,
    ) -> TabularGame:
        """Tabulate a game given as functions.

        ``global_transition(s_g, a_g)`` returns the distribution of ``s_g'`` (length S_g);
        ``local_transition(s_l, s_g, a_l)`` the distribution of ``s_l'`` (length S_l);
        ``global_reward(s_g, a_g)`` and ``local_reward(s_l, s_g, a_l)`` are scalars.
        Remaining keywords (``rho_g``, ``rho_l``, ``dirichlet_alpha``, ``name``) pass to
        :meth:`from_arrays`.
        """
        S_g, A_g, S_l, A_l = (
            num_global_states,
            num_global_actions,
            num_local_states,
            num_local_actions,
        )
        P_g = np.array([[global_transition(s, a) for a in range(A_g)] for s in range(S_g)], float)
        P_l = np.array(
            [
                [[local_transition(s, g, a) for a in range(A_l)] for g in range(S_g)]
                for s in range(S_l)
            ],
            float,
        )
        r_g = np.array([[global_reward(s, a) for a in range(A_g)] for s in range(S_g)], float)
        r_l = np.array(
            [[[local_reward(s, g, a) for a in range(A_l)] for g in range(S_g)] for s in range(S_l)],
            float,
        )
        return cls.from_arrays(P_g=P_g, P_l=P_l, r_g=r_g, r_l=r_l, gamma=gamma, **initializer)

    @classmethod
    def from_npz(cls, path: str | Path) -> TabularGame:
        """Load a game from an ``.npz`` with keys P_g, P_l, r_g, r_l, gamma (+ optional
        rho_g, rho_l, dirichlet_alpha)."""
        path = Path(path)
        data = read_npz(path, str(path), error=GameValidationError)
        keys = set(data)
        missing = [k for k in _NPZ_REQUIRED if k not in keys]
        if missing:
            raise GameValidationError(
                f"{path}: missing key(s) {', '.join(missing)}; "
                f"a game file needs {', '.join(_NPZ_REQUIRED)}"
            )
        extra = sorted(keys - set(_NPZ_REQUIRED) - set(_NPZ_OPTIONAL))
        if extra:
            raise GameValidationError(
                f"{path}: unknown key(s) {', '.join(extra)}; allowed: "
                f"{', '.join(_NPZ_REQUIRED + _NPZ_OPTIONAL)}"
            )
        gamma = data.pop("gamma")
        if np.size(gamma) != 1:
            raise GameValidationError(f"{path}: gamma must be a scalar")
        return cls.from_arrays(gamma=gamma.reshape(()), name=path.stem, **data)

    def to_npz(self, path: str | Path) -> None:
        """Write the game in the format :meth:`from_npz` reads."""
        arrays = {
            "P_g": self.P_g,
            "P_l": self.P_l,
            "r_g": self.r_g,
            "r_l": self.r_l,
            "gamma": np.float64(self.gamma),
            "rho_g": self.rho_g,
        }
        if self.dirichlet_alpha is not None:
            arrays["dirichlet_alpha"] = self.dirichlet_alpha
        elif self.rho_l is not None:
            arrays["rho_l"] = self.rho_l
        np.savez(Path(path), **arrays)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ sizes
    @property
    def num_sg(self) -> int:
        """|S_g|, number of global states."""
        return int(self.P_g.shape[0])

    @property
    def num_ag(self) -> int:
        """|A_g|, number of global actions."""
        return int(self.P_g.shape[1])

    @property
    def num_sl(self) -> int:
        """|S_l|, number of local states."""
        return int(self.P_l.shape[0])

    @property
    def num_al(self) -> int:
        """|A_l|, number of local actions."""
        return int(self.P_l.shape[2])

    @property
    def rg_max(self) -> float:
        return float(self.r_g.max())

    @property
    def rl_max(self) -> float:
        return float(self.r_l.max())

    @property
    def r_max(self) -> float:
        """``r_max = rg_max + rl_max`` (Assumption 2.2): a bound on the stage reward."""
        return self.rg_max + self.rl_max

    @property
    def value_bound(self) -> float:
        """``r_max / (1 - gamma)``: every value lies in ``[0, value_bound]``."""
        return self.r_max / (1.0 - self.gamma)

    @property
    def fingerprint(self) -> str:
        """A short content hash of the arrays, gamma and initializer (stored with policies)."""
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "S_g": self.num_sg,
            "A_g": self.num_ag,
            "S_l": self.num_sl,
            "A_l": self.num_al,
            "gamma": self.gamma,
            "r_max": self.r_max,
            "fingerprint": self.fingerprint,
        }

    # ------------------------------------------------------------------ initial states
    def sample_local_distributions(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Per-episode local initial distributions, ``[size, S_l]`` (fixed or Dirichlet)."""
        if self.dirichlet_alpha is not None:
            return rng.dirichlet(self.dirichlet_alpha, size=size)
        assert self.rho_l is not None  # a game has one of the two initializers
        return np.broadcast_to(self.rho_l, (size, self.num_sl)).copy()

    def sample_global_states(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Initial global states ``s_g(0) ~ rho_g``, ``[size]``."""
        return rng.choice(self.num_sg, size=size, p=self.rho_g)

    def averaged_local(self, local_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(Pbar_l[s_l, s_g, s_l'], rbar_l[s_l, s_g])`` under a local policy (SPEC §3).

        ``local_probs``: ``[S_l, S_g, A_l]`` action probabilities.
        """
        P_bar = np.einsum("lga,lgam->lgm", local_probs, self.P_l)
        r_bar = np.einsum("lga,lga->lg", local_probs, self.r_l)
        return P_bar, r_bar


def _fingerprint(arrays: dict[str, np.ndarray | None], gamma: float) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        val = arrays[key]
        h.update(key.encode())
        if val is not None:
            h.update(np.ascontiguousarray(val, dtype=np.float64).tobytes())
            h.update(json.dumps(val.shape).encode())
    h.update(repr(float(gamma)).encode())
    return h.hexdigest()[:16]
