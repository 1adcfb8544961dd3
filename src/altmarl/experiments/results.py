"""Reading a study's ``results.csv`` and summarising it per ``k`` over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from altmarl.experiments.sweep import read_results


def policy_dir(out: Path, k: int, seed: int) -> Path:
    """Where a study keeps the trained pair of job ``(k, seed)``."""
    return Path(out) / "policies" / f"k{k}_seed{seed}"


def study_run_dir(out: Path, k: int, seed: int) -> Path:
    """Where the continuous study keeps the run directory of job ``(k, seed)``."""
    return Path(out) / "runs" / f"k{k}_seed{seed}"


def load_ok_rows(out: Path) -> list[dict[str, Any]]:
    """Finished records (the last row per (k, seed) wins), numbers parsed."""
    latest: dict[tuple[int, int], dict[str, Any]] = {}
    for row in read_results(out / "results.csv"):
        if row["status"] != "ok":
            continue
        parsed: dict[str, Any] = {}
        for key, val in row.items():
            if key in ("status", "error") or key.endswith("_deviation"):
                parsed[key] = val
            elif val == "":
                parsed[key] = float("nan")  # a column the job did not fill (exploit off)
            elif key == "terminated_early":
                parsed[key] = val == "True"
            else:
                parsed[key] = float(val)
        latest[(int(parsed["k"]), int(parsed["seed"]))] = parsed
    return [latest[key] for key in sorted(latest)]


def per_k(rows: list[dict[str, Any]], field: str) -> dict[int, np.ndarray]:
    """``{k: values of field over the seeds}``."""
    out: dict[int, list[float]] = {}
    for r in rows:
        out.setdefault(int(r["k"]), []).append(r[field])
    return {k: np.array(v) for k, v in sorted(out.items())}


def seed_stats(values: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Per ``k``: ``(ks, mean, std (ddof 1; 0 for one seed), min, max, count)`` over seeds."""
    ks = np.array(sorted(values))
    mean = np.array([values[k].mean() for k in ks])
    std = np.array([values[k].std(ddof=1) if values[k].size > 1 else 0.0 for k in ks])
    lo = np.array([values[k].min() for k in ks])
    hi = np.array([values[k].max() for k in ks])
    n = np.array([values[k].size for k in ks])
    return ks, mean, std, lo, hi, n
