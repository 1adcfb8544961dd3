"""The examples run as documented and print what they claim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_custom_game_example_certifies_a_shrinking_gap():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "custom_game.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    rows = [line.split() for line in proc.stdout.splitlines()[1:]]
    gaps = {int(r[0]): float(r[2]) for r in rows}
    assert sorted(gaps) == [1, 2, 3, 4]
    assert gaps[4] <= 1e-6 < gaps[1] and gaps[3] < gaps[1]
