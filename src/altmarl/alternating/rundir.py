"""The run directory of a tabular ALTERNATING-MARL run: checkpoints and resume.

Files: ``config.json`` (the configuration and the game), ``policy/`` (the current pair, a
policy directory), ``history.csv`` (one row per proposal), ``q_warm.npy`` (the last
G-LEARN ``Qhat``), ``state.json`` (step counter, stop flag, wall time, and the hash of the
local policy ``q_warm`` answered) and, when the run ends, ``result.json``. ``state.json``
is written last and atomically, so a run killed mid-write resumes from the previous
complete checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from altmarl.alternating.driver import RunState
from altmarl.alternating.history import read_history, write_history
from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.oracles import PreviousAnswer
from altmarl.policy_dir import load_policy_dir, save_policy_dir


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


class RunDirectory:
    """Reads and writes one run's files (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def exists(self) -> bool:
        return (self.root / "state.json").is_file()

    def start(self, config: dict[str, Any], game: TabularGame) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        cfg = {**config, "game": game.describe()}
        atomic_write(self.root / "config.json", json.dumps(cfg, indent=2) + "\n")

    def check_config(self, config: dict[str, Any]) -> None:
        """Refuse to resume with a configuration other than the one the run started with."""
        saved = json.loads((self.root / "config.json").read_text())
        diff = [k for k in config if k in saved and saved[k] != config[k]]
        if diff:
            key = diff[0]
            raise AltmarlError(
                f"--resume: {self.root} was trained with {key}={saved[key]!r}, "
                f"not {config[key]!r}; rerun with the original arguments"
            )

    def save(self, state: RunState, game: TabularGame) -> None:
        """Checkpoint ``state``: the pair, the history, the memo, then ``state.json``."""
        save_policy_dir(
            self.root / "policy",
            state.global_policy,
            state.local_policy,
            game_fingerprint=game.fingerprint,
            extra_meta={"step": state.step},
        )
        write_history(self.root / "history.csv", state.history)
        memo = state.memo
        if isinstance(memo, PreviousAnswer):
            # the warm start of the next G-LEARN call: without it a resumed run could
            # break a near-tie differently from an uninterrupted one
            tmp = self.root / "q_warm.tmp.npy"
            np.save(tmp, memo.q)
            tmp.replace(self.root / "q_warm.npy")
        record = {
            "step": state.step,
            "terminated": state.terminated,
            "finished": False,
            "seconds": state.seconds,
            "q_local": memo.local_fingerprint if isinstance(memo, PreviousAnswer) else "",
        }
        atomic_write(self.root / "state.json", json.dumps(record, indent=2) + "\n")

    def load(self, game: TabularGame) -> RunState:
        """The checkpointed :class:`RunState` (refuses an inconsistent directory)."""
        record = json.loads((self.root / "state.json").read_text())
        pair = load_policy_dir(self.root / "policy", game)
        history = tuple(read_history(self.root / "history.csv"))
        step = int(record["step"])
        if len(history) != step:
            raise AltmarlError(
                f"--resume: {self.root} is inconsistent (history has {len(history)} rows, "
                f"state says step {step})"
            )
        q_path = self.root / "q_warm.npy"
        memo = None
        if q_path.is_file():
            memo = PreviousAnswer(np.load(q_path), str(record.get("q_local", "")))
        return RunState(
            global_policy=pair.global_policy,
            local_policy=pair.local_policy,
            history=history,
            step=step,
            terminated=bool(record["terminated"]),
            seconds=float(record.get("seconds", 0.0)),
            memo=memo,
        )

    def finish(self, summary: dict[str, Any], seconds: float) -> None:
        """Write ``result.json`` and mark the run finished in ``state.json``."""
        path = self.root / "state.json"
        record = json.loads(path.read_text()) if self.exists() else {}
        record.update({"finished": True, "seconds": seconds})
        self.write_result(summary)
        atomic_write(path, json.dumps(record, indent=2) + "\n")

    def write_result(self, summary: dict[str, Any]) -> None:
        """(Re)write ``result.json`` atomically."""
        atomic_write(self.root / "result.json", json.dumps(summary, indent=2) + "\n")
