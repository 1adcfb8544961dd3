"""Plotting helpers shared by the studies' figures: files only, never a window."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["band_plot", "plt", "save_figure", "write_csv"]


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow([repr(float(v)) if isinstance(v, float | np.floating) else v for v in row])


def band_plot(ax, x, mean, std, label: str, color: str | None = None, marker: str = "o") -> None:
    """Mean line with a +-1 std band (spread over seeds)."""
    line = ax.plot(x, mean, marker=marker, label=label, color=color)[0]
    ax.fill_between(x, mean - std, mean + std, alpha=0.25, color=line.get_color(), lw=0)


def save_figure(fig: Any, path: Path) -> Path:
    """Lay out, write as a PNG (120 dpi) and close ``fig``."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
