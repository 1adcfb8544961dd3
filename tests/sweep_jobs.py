"""Job functions for sweep-runner tests (importable by spawned workers)."""

from __future__ import annotations

import os
from pathlib import Path


def square(params: dict) -> dict:
    return {"value": params["x"] ** 2}


def crash_once(params: dict) -> dict:
    """Kills its worker process the first time it runs for ``x == 2`` (marker file)."""
    marker = Path(params["dir"]) / f"crashed{params['x']}"
    if params["x"] == 2 and not marker.exists():
        marker.write_text("")
        os._exit(1)
    return {"value": params["x"] ** 2}


def fail_on_two(params: dict) -> dict:
    """Raises for ``x == 2`` (a job that fails every attempt)."""
    if params["x"] == 2:
        raise ValueError("x = 2 is not allowed")
    return {"value": params["x"] ** 2}


def worker_share(params: dict) -> dict:
    """This process's share of the cores as a pool worker (``None`` outside a pool)."""
    from altmarl.experiments.sweep_backends import worker_threads

    return {"value": worker_threads()}
