"""The run directory (``alternating/rundir.py``): a checkpoint is one atomic unit, resume
verifies it, a 0.1 run directory is adopted, and one writer at a time holds ``--out``.

Crash injection: every byte altmarl persists goes through three primitives of
:mod:`altmarl.storage` (``_write``, ``_rename``, ``_symlink``). A test wraps them so that
their ``i``-th call raises (``torn``: a write first puts half its bytes on disk, as a kill
during a write would), for every ``i`` from the run's start through its first two
checkpoints, then resumes in the same directory: the result (the policy files' bytes, the
history without its timing columns, the value) must equal the uninterrupted run's.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from altmarl import storage
from altmarl.alternating import AlternatingConfig, AlternatingMARL, read_history
from altmarl.alternating.rundir import CURRENT, STEPS_DIR, RunDirectory, owning_run
from altmarl.errors import AltmarlError, DirectoryInUseError, RunDirectoryError
from games import sticky_two_zones

GAME = sticky_two_zones(0)
# exact evaluation and the exact operator: a run takes a fraction of a second, and every
# number in it is a deterministic function of the seed, so "equal" means bit for bit
CONFIG = AlternatingConfig(
    k=2,
    n=4,
    alternations=2,
    order=("global", "local"),
    evaluation="exact",
    m=None,
    local_oracle="planning",
    eps_tol=1e-4,
    stop_rule="never",
    seed=3,
)


class Crash(BaseException):
    """A simulated kill (a BaseException: nothing on the way may swallow it)."""


class Primitives:
    """Counts the calls of the storage primitives; raises :class:`Crash` at call ``at``."""

    def __init__(self, at: int | None = None, torn: bool = False) -> None:
        self.at, self.torn, self.calls = at, torn, 0
        self.kinds: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        write, rename, symlink = storage._write, storage._rename, storage._symlink

        def _write(fh, data):
            if self._hit("write") and self.torn:
                fh.write(data[: len(data) // 2])
                fh.flush()
                raise Crash
            return write(fh, data)

        def _rename(src, dst):
            self._hit("rename")
            return rename(src, dst)

        def _symlink(target, link):
            self._hit("symlink")
            return symlink(target, link)

        # fsync guards against power cuts, not kills; skipping it keeps the test fast
        monkeypatch.setattr(storage, "_sync", lambda fd: None)
        monkeypatch.setattr(storage, "_write", _write)
        monkeypatch.setattr(storage, "_rename", _rename)
        monkeypatch.setattr(storage, "_symlink", _symlink)

    def _hit(self, kind: str) -> bool:
        i, self.calls = self.calls, self.calls + 1
        self.kinds.append(kind)
        if i == self.at:
            if self.torn and kind == "write":
                return True
            raise Crash
        return False


def _rows(history) -> list[dict]:
    """The reproducible columns, with every float as its repr: NaN (a terminate row's
    values) then compares equal to NaN, and no bit is lost."""
    return [{k: repr(v) for k, v in r.without_timing().items()} for r in history]


def _outcome(run: Path, result) -> tuple:
    history = _rows(read_history(run / "history.csv"))
    assert history == _rows(result.history)
    return (
        (run / "policy" / "policy.npz").read_bytes(),
        (run / "policy" / "meta.json").read_bytes(),
        history,
        result.value,
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, and the primitive calls made by its start and checkpoints."""
    run = tmp_path_factory.mktemp("ref") / "run"
    counter = Primitives()
    marks: list[int] = []
    with pytest.MonkeyPatch.context() as mp:
        counter.install(mp)
        result = AlternatingMARL(GAME, CONFIG).run(
            run, progress=False, on_step=lambda step: marks.append(counter.calls)
        )
    assert len(result.history) == 4 and len(marks) == 4  # stop_rule="never": 2 x 2 steps
    return _outcome(run, result), marks, counter.kinds


def _crash_then_resume(tmp_path, monkeypatch, at: int, torn: bool):
    run = tmp_path / f"run{at}{'t' if torn else ''}"
    with monkeypatch.context() as mp:
        Primitives(at, torn).install(mp)
        with pytest.raises(Crash):
            AlternatingMARL(GAME, CONFIG).run(run, progress=False)
    result = AlternatingMARL(GAME, CONFIG).run(run, resume=True, progress=False)
    leftovers = sorted(p.name for p in (run / STEPS_DIR).iterdir())
    assert leftovers == [os.readlink(run / CURRENT).split("/")[1]]  # stale steps tidied
    return _outcome(run, result)


def test_a_crash_at_any_write_boundary_resumes_to_the_uninterrupted_result(
    reference, tmp_path, monkeypatch
):
    """Every primitive call of the start and the first two checkpoints (a crash inside the
    first checkpoint restarts the run; inside the second, resumes from the first)."""
    expected, marks, kinds = reference
    boundaries = range(marks[1])
    assert len(boundaries) >= 20
    for at in boundaries:
        assert _crash_then_resume(tmp_path, monkeypatch, at, torn=False) == expected, at
    for at in (i for i in boundaries if kinds[i] == "write"):
        assert _crash_then_resume(tmp_path, monkeypatch, at, torn=True) == expected, at


def test_resume_after_the_last_checkpoint_finishes_the_run(reference, tmp_path, monkeypatch):
    """A kill after the last checkpoint, before result.json: resume only evaluates."""
    expected, marks, _ = reference
    assert _crash_then_resume(tmp_path, monkeypatch, marks[-1], torn=False) == expected


def test_checkpoint_layout_and_view(tmp_path):
    run = tmp_path / "run"
    AlternatingMARL(GAME, CONFIG).run(run, progress=False)
    assert os.readlink(run / CURRENT) == f"{STEPS_DIR}/000004"
    assert sorted(p.name for p in (run / STEPS_DIR).iterdir()) == ["000004"]
    for name in ("policy", "history.csv", "state.json"):
        assert os.readlink(run / name) == f"{CURRENT}/{name}"
    state = json.loads((run / "state.json").read_text())
    assert state["step"] == 4 and state["finished"] is True
    meta = json.loads((run / "policy" / "meta.json").read_text())
    assert meta["step"] == 4
    assert json.loads((run / "result.json").read_text())["proposals"] == 4
    assert owning_run(run / "policy") == run.resolve()
    assert owning_run(run) == run.resolve()
    assert owning_run(tmp_path) is None


def test_a_run_directory_of_version_0_1_is_verified_and_adopted(tmp_path):
    """The 0.1 layout (files in place at the top level) resumes into steps/."""
    cut, full = tmp_path / "cut", tmp_path / "full"
    reference = AlternatingMARL(GAME, CONFIG).run(full, progress=False)

    def stop(step):
        if step == 2:
            raise Crash

    with pytest.raises(Crash):
        AlternatingMARL(GAME, CONFIG).run(cut, progress=False, on_step=stop)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    shutil.copy(cut / "config.json", legacy)
    for name in ("policy", "history.csv", "state.json", "q_warm.npy"):
        src = cut / CURRENT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, legacy / name)
    broken = tmp_path / "broken"
    shutil.copytree(legacy, broken)
    meta = json.loads((broken / "policy" / "meta.json").read_text())
    (broken / "policy" / "meta.json").write_text(json.dumps({**meta, "step": 1}))
    with pytest.raises(RunDirectoryError, match="inconsistent"):
        AlternatingMARL(GAME, CONFIG).run(broken, resume=True, progress=False)
    resumed = AlternatingMARL(GAME, CONFIG).run(legacy, resume=True, progress=False)
    assert resumed.value == reference.value
    assert _rows(resumed.history) == _rows(reference.history)
    assert (legacy / "policy").is_symlink() and not (legacy / "q_warm.npy").exists()
    assert (legacy / "policy" / "policy.npz").read_bytes() == (
        full / "policy" / "policy.npz"
    ).read_bytes()


def test_resume_refuses_another_game_unless_allowed(tmp_path):
    run = tmp_path / "run"
    AlternatingMARL(GAME, CONFIG).run(run, progress=False)
    other = sticky_two_zones(1)
    with pytest.raises(AltmarlError, match="--allow-other-game"):
        AlternatingMARL(other, CONFIG).run(run, resume=True, progress=False)
    with pytest.warns(UserWarning, match="another game"):
        AlternatingMARL(other, CONFIG).run(run, resume=True, allow_other_game=True, progress=False)


def test_a_second_writer_is_refused_in_process(tmp_path):
    with storage.lock_directory(tmp_path / "run"):
        with pytest.raises(DirectoryInUseError, match=f"pid {os.getpid()}"):
            AlternatingMARL(GAME, CONFIG).run(tmp_path / "run", progress=False)
    assert not RunDirectory(tmp_path / "run").exists()  # the refused writer wrote nothing
    AlternatingMARL(GAME, CONFIG).run(tmp_path / "run", progress=False)  # released


TRAIN = [
    "train",
    "--k",
    "3",
    "--n",
    "200",
    "--update-rollouts",
    "20",
    "--rollouts",
    "10",
    "--horizon",
    "40",
    "--alternations",
    "2",
    "--tol",
    "1e-2",
    "--no-baselines",
    "--json",
]


def test_two_concurrent_train_processes_on_one_out(tmp_path, subprocess_env):
    """The second process is refused (exit 2, naming the directory and the first's pid);
    the first finishes intact: its files are those of a run alone. The first is paused
    (SIGSTOP) while the second tries, so the two overlap however fast the machine is."""
    out, alone = tmp_path / "shared", tmp_path / "alone"
    cmd = [sys.executable, "-m", "altmarl", *TRAIN, "--out"]
    first = subprocess.Popen([*cmd, str(out)], env=subprocess_env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "config.json").exists():  # the first holds the lock from here on
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = subprocess.run(
            [*cmd, str(out)], env=subprocess_env, capture_output=True, text=True, timeout=120
        )
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode == 2, second.stderr
    assert second.stderr.count("\n") == 1
    assert f"{out} is in use" in second.stderr and f"pid {first.pid}" in second.stderr
    assert first.wait(timeout=300) == 0
    solo = subprocess.run(
        [*cmd, str(alone)], env=subprocess_env, capture_output=True, text=True, timeout=300
    )
    assert solo.returncode == 0, solo.stderr
    for run in (out, alone):
        cfg = json.loads((run / "config.json").read_text())
        cfg.pop("game")
        assert cfg["k"] == 3 and cfg["alternations"] == 2
    assert (out / "policy" / "policy.npz").read_bytes() == (
        alone / "policy" / "policy.npz"
    ).read_bytes()
    assert _rows(read_history(out / "history.csv")) == _rows(read_history(alone / "history.csv"))
    assert np.isfinite(json.loads((out / "result.json").read_text())["value"])
