"""Shared by tests/alternating/ and tests/cli/test_train.py: scripted oracles and a scripted
evaluator that drive the ALTERNATING-MARL loop by hand on the warehouse, a small rollout
configuration, and the crash injection of the run directory's storage primitives."""

from __future__ import annotations

import numpy as np
import pytest

from altmarl import storage
from altmarl.alternating import AlternatingConfig, AlternatingMARL, Estimate
from altmarl.oracles import GLearnResult, LLearnResult, OracleInfo
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.scenarios import warehouse

GAME = warehouse()
K = 2


def _pg(action: int) -> GlobalPolicy:
    return GlobalPolicy.constant(
        action, num_global_states=5, num_actions=5, k=K, num_local_states=5
    )


class _ScriptedGlobal:
    """Proposes constant dispatchers 1, 2, 3, ... in turn."""

    def __init__(self):
        self.calls = 0

    def best_response(self, game, local_policy, k, *, global_policy=None, seed=0, previous=None):
        self.calls += 1
        q = np.zeros((5, 15, 5))
        return GLearnResult(q, _pg(self.calls), OracleInfo(value=0.0, samples=7))


class _ScriptedLocal:
    def __init__(self):
        self.calls = 0

    def best_response(self, game, global_policy, k, *, local_policy=None, seed=0):
        self.calls += 1
        probs = np.zeros((5, 5, 3))
        probs[..., self.calls % 3] = 1.0
        return LLearnResult(LocalPolicy(probs), OracleInfo(value=0.0, samples=7))


class _ScriptedEvaluator:
    """Returns scripted (old, new) estimates, one pair per proposal."""

    def __init__(self, script):
        self.script = list(script)

    def estimate(self, game, pairs, seed):
        old, new = self.script.pop(0)
        return [Estimate(old, 0.0), Estimate(new, 0.0)]


def _driver(script, **kw):
    cfg = AlternatingConfig(k=K, n=10, eps_tol=0.5, **kw)
    return AlternatingMARL(
        GAME,
        cfg,
        global_oracle=_ScriptedGlobal(),
        local_oracle=_ScriptedLocal(),
        evaluator=_ScriptedEvaluator(script),
    )


FAST = dict(
    k=3,
    n=200,
    eps_tol=1.0,
    update_rollouts=20,
    final_rollouts=10,
    final_horizon=40,
    alternations=3,
    local_options={"iterations": 1, "num_initial": 2},
    order=("global", "local"),
    seed=5,
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
