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
from pathlib import Path

import pytest

from alternating_helpers import Crash, Primitives, _rows
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
