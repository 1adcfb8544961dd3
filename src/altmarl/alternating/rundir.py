"""The run directory of a tabular ALTERNATING-MARL run: crash-consistent checkpoints, resume.

Layout::

    config.json               the configuration and the game (written once, at the start)
    steps/<step>/             the checkpoint after proposal <step> (six digits), complete:
        policy/               the pair (a policy directory; its meta.json records the step)
        history.csv           one row per proposal so far
        q_warm.npy            the last G-LEARN Qhat (the next call's warm start)
        state.json            step, stop flag, wall time, hash of the local policy q_warm answered
    current -> steps/<step>   the latest complete checkpoint (a symbolic link)
    policy, history.csv, state.json -> current/...   what users read (symbolic links)
    result.json               when the run ends
    .lock                     held by the process writing the run (:mod:`altmarl.storage`)

A checkpoint is one unit: it is written into ``steps/<step>.partial/``, fsynced, renamed to
``steps/<step>/`` and committed by one atomic rename that points ``current`` at it; older
steps are removed afterwards. A process killed at any moment leaves ``current`` at a
complete checkpoint, and ``--resume`` continues from the last commit (or from the start if
there was none), ending exactly as the uninterrupted run. Before trusting a checkpoint,
``--resume`` verifies it: ``state.json``'s step, ``policy/meta.json``'s step and the rows of
``history.csv`` must agree, the pair must fit the game and ``config.json``, and
``q_warm.npy`` must be a float table of the right shape; anything else is refused with a
message naming the file. A run directory of altmarl 0.1 (the same files at the top level,
written in place) is verified the same way and moved into this layout on resume.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import warnings
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from altmarl.alternating.driver import RunState
from altmarl.alternating.history import HistoryRow, format_history, read_history
from altmarl.arrayfile import read_npy
from altmarl.errors import AltmarlWarning, GameMismatchError, RunDirectoryError
from altmarl.game import TabularGame
from altmarl.oracles import PreviousAnswer
from altmarl.policy_dir import PolicyPair, load_policy_dir, policy_files
from altmarl.storage import (
    atomic_write,
    fsync_dir,
    lock_directory,
    point_link,
    rename_durably,
    write_new,
)

CONFIG_FILE = "config.json"
RESULT_FILE = "result.json"
STATE_FILE = "state.json"
HISTORY_FILE = "history.csv"
Q_FILE = "q_warm.npy"
POLICY_DIR = "policy"
STEPS_DIR = "steps"
CURRENT = "current"
#: Top-level names showing the latest checkpoint (symbolic links through ``current``).
VIEW = (POLICY_DIR, HISTORY_FILE, STATE_FILE)


def step_name(step: int) -> str:
    return f"{step:06d}"


def atomic_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2) + "\n")


class RunDirectory:
    """Reads and writes one run's files (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def exists(self) -> bool:
        """Whether the directory holds a run (started, checkpointed or finished)."""
        r = self.root
        return (r / CONFIG_FILE).exists() or (r / CURRENT).is_symlink() or (r / STATE_FILE).exists()

    def lock(self) -> AbstractContextManager[Path]:
        """The directory's lock (created if needed), held by the run's writer."""
        return lock_directory(self.root, "--out")

    def start(self, config: dict[str, Any], game: TabularGame) -> None:
        atomic_json(self.root / CONFIG_FILE, {**config, "game": game.describe()})

    def check_config(
        self, config: dict[str, Any], game: TabularGame, *, allow_other_game: bool = False
    ) -> None:
        """Refuse to resume with a configuration or a game other than the run's own."""
        saved = self._json(self.root / CONFIG_FILE)
        diff = [k for k in config if k in saved and saved[k] != config[k]]
        if diff:
            key = diff[0]
            raise RunDirectoryError(
                f"--resume: {self.root} was trained with {key}={saved[key]!r}, "
                f"not {config[key]!r}; rerun with the original arguments"
            )
        described = saved.get("game")
        fp = described.get("fingerprint") if isinstance(described, dict) else None
        if fp != game.fingerprint:
            msg = (
                f"--resume: {self.root} was trained on another game (fingerprint {fp}), "
                f"not {game.name} ({game.fingerprint})"
            )
            if not allow_other_game:
                raise GameMismatchError(f"{msg}; pass --allow-other-game to continue it anyway")
            warnings.warn(msg, AltmarlWarning, stacklevel=2)

    # ------------------------------------------------------------------ writing

    def save(self, state: RunState, game: TabularGame) -> None:
        """Checkpoint ``state`` as one unit: write ``steps/<step>.partial/``, rename it to
        ``steps/<step>/``, point ``current`` at it (the commit), then tidy up."""
        steps = self.root / STEPS_DIR
        steps.mkdir(exist_ok=True)
        name = step_name(state.step)
        if self.current_name() == name:
            raise RunDirectoryError(f"{self.root}: step {state.step} is already committed")
        final, partial = steps / name, steps / f"{name}.partial"
        for stale in (partial, final):  # written, never committed, before a crash
            if stale.exists():
                shutil.rmtree(stale)
        (partial / POLICY_DIR).mkdir(parents=True)
        # inside a directory that is committed whole, files need no rename of their own
        files = policy_files(
            state.global_policy,
            state.local_policy,
            game_fingerprint=game.fingerprint,
            extra_meta={"step": state.step},
        )
        for entry, data in files.items():
            write_new(partial / POLICY_DIR / entry, data)
        fsync_dir(partial / POLICY_DIR)
        write_new(partial / HISTORY_FILE, format_history(state.history).encode())
        memo = state.memo
        if isinstance(memo, PreviousAnswer):
            # the warm start of the next G-LEARN call: without it a resumed run could
            # break a near-tie differently from an uninterrupted one
            buf = io.BytesIO()
            np.save(buf, memo.q, allow_pickle=False)
            write_new(partial / Q_FILE, buf.getvalue())
        record = {
            "step": state.step,
            "terminated": state.terminated,
            "finished": False,
            "seconds": state.seconds,
            "q_local": memo.local_fingerprint if isinstance(memo, PreviousAnswer) else "",
        }
        write_new(partial / STATE_FILE, (json.dumps(record, indent=2) + "\n").encode())
        fsync_dir(partial)
        rename_durably(partial, final)
        point_link(self.root / CURRENT, f"{STEPS_DIR}/{name}")  # the commit
        self._show_view()
        self._prune(keep=name)

    def finish(self, summary: dict[str, Any], seconds: float) -> None:
        """Write ``result.json`` and mark the last checkpoint finished."""
        self.write_result(summary)
        name = self.current_name()
        if name is None:
            return
        path = self.root / STEPS_DIR / name / STATE_FILE
        record = self._json(path)
        record.update({"finished": True, "seconds": seconds})
        atomic_json(path, record)

    def write_result(self, summary: dict[str, Any]) -> None:
        """(Re)write ``result.json`` atomically."""
        atomic_json(self.root / RESULT_FILE, summary)

    def _show_view(self) -> None:
        for entry in VIEW:
            link, target = self.root / entry, f"{CURRENT}/{entry}"
            if link.is_symlink() and os.readlink(link) == target:
                continue
            if link.is_dir() and not link.is_symlink():  # a 0.1 run's files, now copied
                shutil.rmtree(link)
            point_link(link, target)

    def _prune(self, keep: str) -> None:
        for entry in (self.root / STEPS_DIR).iterdir():
            if entry.name != keep:
                shutil.rmtree(entry, ignore_errors=True)

    # ------------------------------------------------------------------ reading

    def current_name(self) -> str | None:
        """The committed step's directory name, or ``None`` before the first commit."""
        link = self.root / CURRENT
        if not link.is_symlink():
            if link.exists():
                raise RunDirectoryError(
                    f"--resume: {link} should be a symbolic link to the latest checkpoint"
                )
            return None
        target = os.readlink(link)
        head, _, name = target.partition("/")
        if head != STEPS_DIR or not name.isdigit() or not (self.root / target).is_dir():
            raise RunDirectoryError(
                f"--resume: {link} points at {target!r}, not at a checkpoint in {STEPS_DIR}/"
            )
        return name

    def load(
        self, game: TabularGame, config: dict[str, Any], *, allow_other_game: bool = False
    ) -> RunState | None:
        """The last committed :class:`RunState`, verified (``None``: no commit yet)."""
        name = self.current_name()
        if name is None:
            legacy = self.root / STATE_FILE
            if legacy.is_file() and not legacy.is_symlink():
                return self._adopt_legacy(game, config, allow_other_game)
            return None
        state = self._read_checkpoint(
            self.root / STEPS_DIR / name, game, config, allow_other_game, int(name)
        )
        self._show_view()
        self._prune(keep=name)
        return state

    def _adopt_legacy(
        self, game: TabularGame, config: dict[str, Any], allow_other_game: bool
    ) -> RunState:
        """Verify a 0.1 run directory (files at the top level) and move it into steps/."""
        state = self._read_checkpoint(self.root, game, config, allow_other_game, None)
        name = step_name(state.step)
        steps = self.root / STEPS_DIR
        steps.mkdir(exist_ok=True)
        partial = steps / f"{name}.partial"
        if partial.exists():
            shutil.rmtree(partial)
        shutil.copytree(self.root / POLICY_DIR, partial / POLICY_DIR)
        for entry in (HISTORY_FILE, Q_FILE, STATE_FILE):
            if (self.root / entry).is_file():
                shutil.copy2(self.root / entry, partial / entry)
        fsync_dir(partial)
        if (steps / name).exists():
            shutil.rmtree(steps / name)
        rename_durably(partial, steps / name)
        point_link(self.root / CURRENT, f"{STEPS_DIR}/{name}")
        self._show_view()
        (self.root / Q_FILE).unlink(missing_ok=True)
        return state

    def _read_checkpoint(
        self,
        where: Path,
        game: TabularGame,
        config: dict[str, Any],
        allow_other_game: bool,
        expected_step: int | None,
    ) -> RunState:
        record = self._json(where / STATE_FILE)
        step = record.get("step")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise RunDirectoryError(
                f"--resume: {where / STATE_FILE} has step {step!r}, not an integer >= 0"
            )
        if expected_step is not None and step != expected_step:
            raise RunDirectoryError(
                f"--resume: {where / STATE_FILE} says step {step} in checkpoint {where.name}"
            )
        terminated, seconds = record.get("terminated"), record.get("seconds", 0.0)
        if not isinstance(terminated, bool):
            raise RunDirectoryError(f"--resume: {where / STATE_FILE} lacks a true/false terminated")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise RunDirectoryError(f"--resume: {where / STATE_FILE} has seconds {seconds!r}")
        pair = load_policy_dir(
            where / POLICY_DIR, game, allow_other_game=allow_other_game, flag="--resume:"
        )
        self._check_pair(where, pair, step, config)
        history = self._history(where / HISTORY_FILE, step)
        memo = None
        if (where / Q_FILE).exists():
            q = read_npy(where / Q_FILE, f"--resume: {where / Q_FILE}", "f", RunDirectoryError)
            shape = (game.num_sg, pair.global_policy.space.size, game.num_ag)
            if q.shape != shape:
                raise RunDirectoryError(
                    f"--resume: {where / Q_FILE} has shape {q.shape}, the run's Q table {shape}"
                )
            memo = PreviousAnswer(q.astype(np.float64), str(record.get("q_local", "")))
        return RunState(
            global_policy=pair.global_policy,
            local_policy=pair.local_policy,
            history=history,
            step=step,
            terminated=terminated,
            seconds=float(seconds) if math.isfinite(seconds) else 0.0,
            memo=memo,
        )

    def _check_pair(self, where: Path, pair: PolicyPair, step: int, config: dict[str, Any]) -> None:
        meta_step = pair.meta.get("step")
        if meta_step != step:
            raise RunDirectoryError(
                f"--resume: {where} is inconsistent: {POLICY_DIR}/meta.json is at step "
                f"{meta_step!r}, {STATE_FILE} at step {step}"
            )
        pi_g = pair.global_policy
        for key, value in (("k", pi_g.k), ("parameterization", pi_g.parameterization)):
            if key in config and config[key] != value:
                raise RunDirectoryError(
                    f"--resume: {where / POLICY_DIR} has {key} = {value!r}, the run {config[key]!r}"
                )

    def _history(self, path: Path, step: int) -> tuple[HistoryRow, ...]:
        try:
            rows = tuple(read_history(path))
        except (OSError, ValueError, TypeError, KeyError, csv.Error, UnicodeDecodeError) as exc:
            raise RunDirectoryError(f"--resume: {path} is not readable ({exc})") from None
        if [r.step for r in rows] != list(range(step)):
            raise RunDirectoryError(
                f"--resume: {path} is inconsistent: it has {len(rows)} rows, the checkpoint "
                f"is at step {step}"
            )
        return rows

    def _json(self, path: Path) -> dict[str, Any]:
        try:
            obj = json.loads(path.read_text())
        except FileNotFoundError:
            raise RunDirectoryError(f"--resume: {path} is missing") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise RunDirectoryError(f"--resume: {path} is not readable JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise RunDirectoryError(f"--resume: {path} must hold a JSON object")
        return obj


def owning_run(path: Path) -> Path | None:
    """The run directory that ``path`` is, or whose checkpoint it is or lies in
    (``RUN/policy``, ``RUN/steps/...``; a 0.1 run's ``policy/``), or ``None``."""
    path = Path(path)
    resolved = path.resolve()
    if RunDirectory(resolved).exists():
        return resolved
    for parent in (resolved, *resolved.parents):
        if parent.name == STEPS_DIR and (parent.parent / CONFIG_FILE).is_file():
            return parent.parent
    if path.name == POLICY_DIR and (path.parent / STATE_FILE).is_file():
        return path.parent
    return None
