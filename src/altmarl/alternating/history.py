"""The history of a run: one typed row per proposal, and its CSV file (``history.csv``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from altmarl.storage import atomic_write

#: The columns of ``history.csv``, in order.
HISTORY_FIELDS = (
    "step",
    "alternation",
    "player",
    "decision",
    "candidate",
    "old_value",
    "old_stderr",
    "new_value",
    "new_stderr",
    "eps_tol",
    "old_low",
    "old_high",
    "new_low",
    "new_high",
    "difference",
    "difference_stderr",
    "half_width",
    "bias",
    "rollouts",
    "selection_rollouts",
    "oracle_value",
    "samples",
    "episodes",
    "iterations",
    "oracle_seconds",
    "update_seconds",
)

#: Columns that measure wall time; everything else is reproducible from the seed.
TIMING_FIELDS = ("oracle_seconds", "update_seconds")

_INTS = frozenset(
    {"step", "alternation", "samples", "episodes", "iterations", "rollouts", "selection_rollouts"}
)
_STRS = frozenset({"player", "decision", "candidate"})


@dataclass(frozen=True)
class HistoryRow:
    """One proposal: who moved, UPDATE's two estimates and intervals, the decision, and the
    oracle's report. ``details`` holds further numbers an oracle reported (not in the
    tabular ``history.csv``).

    UPDATE's comparison (:class:`~altmarl.alternating.update.Comparison`): ``difference``
    estimates ``V(new) - V(old)`` with standard error ``difference_stderr``; it is decided on
    with the interval ``difference +- (half_width + bias)`` (``half_width``: the sampling
    part at the decision's confidence; ``bias``: the truncated tail's bound); ``rollouts``
    per pair UPDATE used; ``selection_rollouts`` per candidate spent choosing the candidate.
    Exact evaluation has ``half_width = bias = rollouts = 0``.
    """

    step: int
    alternation: int
    player: str
    decision: str
    candidate: str
    old_value: float
    old_stderr: float
    new_value: float
    new_stderr: float
    eps_tol: float
    old_low: float
    old_high: float
    new_low: float
    new_high: float
    oracle_value: float
    samples: int
    episodes: int
    iterations: int
    oracle_seconds: float
    update_seconds: float
    difference: float = float("nan")
    difference_stderr: float = 0.0
    half_width: float = 0.0
    bias: float = 0.0
    rollouts: int = 0
    selection_rollouts: int = 0
    details: Mapping[str, float] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The row's ``history.csv`` columns as a dict."""
        return {name: getattr(self, name) for name in HISTORY_FIELDS}

    def without_timing(self) -> dict[str, Any]:
        """The columns that are reproducible from the seed."""
        return {k: v for k, v in self.as_dict().items() if k not in TIMING_FIELDS}


def _fmt(v: Any) -> Any:
    # repr keeps every bit of a float, so a resumed history equals an uninterrupted one
    return repr(float(v)) if isinstance(v, float | np.floating) else v


def format_history(history: Iterable[HistoryRow], extra_fields: tuple[str, ...] = ()) -> str:
    """The text of ``history.csv``; ``extra_fields`` adds columns read from each row's
    ``details``."""
    buf = io.StringIO()
    columns = (*HISTORY_FIELDS, *extra_fields)
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    for row in history:
        values = {**row.as_dict(), **{k: row.details.get(k, "") for k in extra_fields}}
        writer.writerow({k: _fmt(values[k]) for k in columns})
    return buf.getvalue()


def write_history(
    path: Path, history: Iterable[HistoryRow], extra_fields: tuple[str, ...] = ()
) -> None:
    """Write ``history.csv`` atomically (:func:`~altmarl.storage.atomic_write`)."""
    atomic_write(path, format_history(history, extra_fields))


def read_history(path: Path) -> list[HistoryRow]:
    """Rows of a ``history.csv`` written by :func:`write_history`."""
    names = {f.name for f in fields(HistoryRow)} - {"details"}
    rows = []
    with path.open(newline="") as fh:
        for raw in csv.DictReader(fh):
            kw: dict[str, Any] = {}
            details: dict[str, float] = {}
            for key, val in raw.items():
                if key in _INTS:
                    kw[key] = int(val)
                elif key in _STRS:
                    kw[key] = val
                elif key in names:
                    kw[key] = float(val)
                elif val != "":
                    details[key] = float(val)
            rows.append(HistoryRow(**kw, details=details))
    return rows
