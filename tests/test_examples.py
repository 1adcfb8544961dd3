"""Every ``examples/*.py`` runs as documented, at a small setting, and prints what it claims.

Each example is its own test (``test_example_runs[NAME.py]``), found by globbing
``examples/*.py``, so a new example is picked up with no change here. It runs as a user runs
it, ``python examples/NAME.py`` (``sys.executable``, no arguments), in an empty temporary
directory, with the environment variable ``ALTMARL_EXAMPLE_SMALL=1`` and a timeout of
:data:`TIMEOUT` seconds; it must exit 0. Convention for examples: one that takes more than
about 10 seconds at its documented size reads ``ALTMARL_EXAMPLE_SMALL`` and, when it is set,
shrinks its sizes (fewer ``k``, rollouts, alternations) and prints the same kind of output;
``custom_game.py`` is small already and ignores it. An example that needs an optional extra
(torch, gymnasium, ray, pettingzoo, stable-baselines3) is skipped when the import fails.
Claims an example's docstring or the README makes about its output get a test of their own
below, on the same (cached) run.

Top level, not beside one module (cross-cutting): the examples use the whole package.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
TIMEOUT = 120
#: Modules of the optional extras; an example failing to import one of them is skipped.
OPTIONAL = ("torch", "gymnasium", "ray", "pettingzoo", "stable_baselines3", "sb3_contrib")


@functools.cache
def _run(path: Path, env_items: tuple[tuple[str, str], ...]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run(
            [sys.executable, str(path)],
            cwd=cwd,
            env=dict(env_items),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )


@pytest.fixture
def run_example(subprocess_env):
    """Run an example once per session at the small setting; skip on a missing extra."""

    def run(path: Path) -> subprocess.CompletedProcess:
        env = {**subprocess_env, "ALTMARL_EXAMPLE_SMALL": "1"}
        proc = _run(path, tuple(sorted(env.items())))
        missing = re.search(r"No module named '([\w.]+)'", proc.stderr)
        if proc.returncode != 0 and missing and missing[1].split(".")[0] in OPTIONAL:
            pytest.skip(f"{path.name} needs {missing[1]} (an optional extra)")
        assert proc.returncode == 0, (
            f"python examples/{path.name} exited {proc.returncode}\n{proc.stderr[-2000:]}"
        )
        return proc

    return run


def test_there_are_examples():
    assert ROOT / "examples" / "custom_game.py" in EXAMPLES


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, run_example):
    assert run_example(path).stdout.strip(), f"examples/{path.name} printed nothing"


@pytest.mark.slow
def test_custom_game_example_certifies_a_shrinking_gap(run_example):
    proc = run_example(ROOT / "examples" / "custom_game.py")
    rows = [line.split() for line in proc.stdout.splitlines()[1:]]
    gaps = {int(r[0]): float(r[2]) for r in rows}
    assert sorted(gaps) == [1, 2, 3, 4]
    assert gaps[4] <= 1e-6 < gaps[1] and gaps[3] < gaps[1]


@pytest.mark.slow
def test_certified_gap_example_reaches_zero_at_k_equal_n(run_example):
    """The certified gap of trained pairs on the two-zone game (n = 3 at the small setting):
    the supremum over states bounds the initial-law gap, it is 0 at k = n (the dispatcher
    sees everyone), and the gains exploit finds never exceed it."""
    proc = run_example(ROOT / "examples" / "certified_gap.py")
    rows = [line.split() for line in proc.stdout.splitlines()[1:] if line.split()[0].isdigit()]
    table = {int(r[0]): [float(x) for x in r[1:]] for r in rows}
    assert sorted(table) == [1, 2, 3]
    for eps_init, eps_sup, _, g_found, _, l_found in table.values():
        assert eps_sup >= eps_init - 1e-9 and max(g_found, l_found) <= eps_sup + 1e-9
    assert table[3][1] <= 1e-6 < table[1][1]
