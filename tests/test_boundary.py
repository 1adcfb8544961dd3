"""The command line's boundary: every class of bad input ends in exit status 2 and one line
on stderr naming the argument: never a traceback, another status, or silent acceptance.

Each case builds its bad input in a fresh directory (from a tiny game file, a trained tiny
run and its policy directory, made once) and runs the CLI in-process. Run as a script, the
file prints the table of outcomes, one row per class::

    python tests/test_boundary.py            # the altmarl on PYTHONPATH
    python tests/test_boundary.py --limit-gb 4  # cap the address space (an unchecked
                                                # allocation then fails fast, not the machine)

Top level, not beside one module (cross-cutting): every command's bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from altmarl.cli import main

# ----------------------------------------------------------------------------- fixtures


@dataclass(frozen=True)
class Base:
    """Inputs made once: a tiny game file, a trained run of it, a copy of its policy."""

    root: Path

    @property
    def game(self) -> Path:
        return self.root / "tiny.npz"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def policy(self) -> Path:
        return self.root / "pol"

    def arrays(self) -> dict[str, np.ndarray]:
        with np.load(self.game) as data:
            return {k: data[k] for k in data.files}


TRAIN = ["--k", "2", "--n", "4", "--evaluation", "exact", "--m", "exact"]
TRAIN += ["--local-oracle", "planning", "--eps-tol", "0.001", "--alternations", "2"]


def make_base(root: Path) -> Base:
    from altmarl.scenarios import random_game

    base = Base(root)
    root.mkdir(parents=True, exist_ok=True)
    random_game(0).to_npz(base.game)
    code, _, err = run_cli(["train", "--game", str(base.game), *TRAIN, "--out", str(base.run)])
    assert code == 0, err
    shutil.copytree(base.run / "policy", base.policy)  # follows links: a plain directory
    return base


def run_cli(argv: list[str]) -> tuple[int | str, str, str]:
    """``(status or the escaping exception's name, stdout, stderr)`` of one CLI call."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | str = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # a traceback the user would see
            traceback.print_exc(file=err)
            code = type(exc).__name__
    return code, out.getvalue(), err.getvalue()


def copy_run(base: Base, tmp: Path) -> Path:
    run = tmp / "run"
    shutil.copytree(base.run, run, symlinks=True)
    return run


def run_file(run: Path, name: str) -> Path:
    """The file a resume reads (``state.json``, ``q_warm.npy``, ...), whatever the layout."""
    for candidate in (run / "current" / name, run / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(name)


def write_npz(path: Path, **arrays: object) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def huge_header_npz(path: Path, key: str, claimed: int) -> Path:
    """An .npz whose member ``key`` claims ``claimed`` float64s but holds a few bytes."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (claimed,)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{key}.npy", buf.getvalue() + b"\0" * 64)
    return path


# ----------------------------------------------------------------------------- the cases

SIM = ["--rollouts", "2", "--horizon", "3"]


@dataclass(frozen=True)
class Case:
    """One class of bad input: ``build(tmp, base)`` makes it and returns the argv; the
    one-line refusal must contain ``needle``."""

    name: str
    build: Callable[[Path, Base], list[str]]
    needle: str


def _game_case(name: str, make: Callable[[Path, Base], Path], needle: str = "--game") -> Case:
    def build(tmp: Path, base: Base) -> list[str]:
        return ["simulate", "--game", str(make(tmp, base)), "--n", "10", "--k", "2", *SIM]

    return Case(f"game file: {name}", build, needle)


def _valid_npz(tmp: Path, base: Base) -> Path:
    return write_npz(tmp / "g.npz", **base.arrays())


def _modified(**changes: object) -> Callable[[Path, Base], Path]:
    def make(tmp: Path, base: Base) -> Path:
        arrays: dict[str, object] = {**base.arrays(), **changes}
        return write_npz(tmp / "g.npz", **{k: v for k, v in arrays.items() if v is not None})

    return make


def _zero_byte(tmp: Path, base: Base) -> Path:
    (tmp / "g.npz").write_bytes(b"")
    return tmp / "g.npz"


def _npy_renamed(tmp: Path, base: Base) -> Path:
    np.save(tmp / "g.npy", base.arrays()["P_g"])
    return (tmp / "g.npy").rename(tmp / "g.npz")


def _truncated(tmp: Path, base: Base) -> Path:
    path = _valid_npz(tmp, base)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _crc_corrupt(tmp: Path, base: Base) -> Path:
    path = tmp / "g.npz"
    np.savez(path, **base.arrays())  # stored, not compressed: the flip lands in array data
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("P_g.npy")
    flip_byte(path, info.header_offset + 30 + len(info.filename) + 140)
    return path


def _text_file(tmp: Path, base: Base) -> Path:
    (tmp / "g.npz").write_text("P_g = [[1]]\n")
    return tmp / "g.npz"


def _complex(tmp: Path, base: Base) -> Path:
    a = base.arrays()
    return write_npz(tmp / "g.npz", **{**a, "r_g": a["r_g"] + 1j})


def _big_reward(tmp: Path, base: Base) -> Path:
    a = base.arrays()
    return write_npz(tmp / "g.npz", **{**a, "r_g": np.full_like(a["r_g"], 1e308)})


def _huge_header(tmp: Path, base: Base) -> Path:
    path = tmp / "g.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for key, value in base.arrays().items():
            if key != "r_l":
                buf = io.BytesIO()
                np.save(buf, value)
                zf.writestr(f"{key}.npy", buf.getvalue())
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**9,)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("r_l.npy", buf.getvalue() + b"\0" * 64)
    return path


def _object_array(tmp: Path, base: Base) -> Path:
    a = base.arrays()
    a["rho_g"] = np.array([0.5, {"x": 1}], dtype=object)
    path = tmp / "g.npz"
    np.savez(path, **a)
    return path


def _directory(tmp: Path, base: Base) -> Path:
    (tmp / "g.npz").mkdir()
    return tmp / "g.npz"


GAME_CASES = [
    _game_case("missing file", lambda tmp, base: tmp / "nope.npz"),
    _game_case("a directory", _directory),
    _game_case("zero-byte file", _zero_byte),
    _game_case("a .npy renamed .npz", _npy_renamed),
    _game_case("truncated zip", _truncated),
    _game_case("CRC-corrupt zip", _crc_corrupt),
    _game_case("a text file", _text_file),
    _game_case("missing key", _modified(P_l=None), "P_l"),
    _game_case("unknown key", _modified(extra=np.zeros(2)), "extra"),
    _game_case("complex arrays", _complex, "r_g"),
    _game_case("gamma a string", _modified(gamma=np.array("0.9")), "gamma"),
    _game_case("gamma complex", _modified(gamma=np.array(0.9 + 0.1j)), "gamma"),
    _game_case("gamma out of (0, 1)", _modified(gamma=np.float64(1.0)), "gamma"),
    _game_case("gamma not a scalar", _modified(gamma=np.array([0.9, 0.9])), "gamma"),
    _game_case("reward overflows the value (1e308)", _big_reward, "r_max"),
    _game_case("header claims 1e9 floats in a small file", _huge_header, "r_l"),
    _game_case("pickled object array", _object_array, "rho_g"),
    _game_case("NaN probability", _modified(P_g=np.full((2, 2, 2), np.nan)), "P_g"),
    _game_case("rows not summing to 1", _modified(P_g=np.full((2, 2, 2), 0.3)), "P_g"),
    _game_case("negative reward", _modified(r_g=-np.ones((2, 2))), "r_g"),
    _game_case("wrong number of dimensions", _modified(P_g=np.ones((2, 2))), "P_g"),
    _game_case("strings as probabilities", _modified(P_g=np.array([["a"]])), "P_g"),
]


def _argv(*args: str) -> Callable[[Path, Base], list[str]]:
    return lambda tmp, base: [a.format(game=base.game, pol=base.policy, tmp=tmp) for a in args]


NUMBER_CASES = [
    Case(
        "--n 1e19",
        _argv("simulate", "--game", "{game}", "--n", "1e19", "--k", "2", *SIM),
        "--n",
    ),
    Case(
        "--n 1e30",
        _argv("simulate", "--game", "{game}", "--n", "1e30", "--k", "2", *SIM),
        "--n",
    ),
    Case(
        "--n 1e400",
        _argv("simulate", "--game", "{game}", "--n", "1e400", "--k", "2", *SIM),
        "--n",
    ),
    Case("--n nan", _argv("simulate", "--game", "{game}", "--n", "nan", *SIM), "--n"),
    Case(
        "reproduce --n 1e30",
        _argv(
            "reproduce",
            "warehouse",
            "--k-values",
            "1",
            "--seeds",
            "1",
            "--n",
            "1e30",
            "--workers",
            "1",
            "--out",
            "{tmp}/study",
        ),
        "--n",
    ),
    Case(
        "train --n 1e19",
        _argv("train", "--game", "{game}", *TRAIN, "--n", "1e19", "--out", "{tmp}/r"),
        "--n",
    ),
    Case(
        "negative --seed (llearn)",
        _argv(
            "llearn",
            "--game",
            "{game}",
            "--k",
            "2",
            "--global-policy-dir",
            "{pol}",
            "--oracle",
            "planning",
            "--seed",
            "-1",
        ),
        "--seed",
    ),
    Case(
        "negative --seed (simulate)",
        _argv("simulate", "--game", "{game}", "--seed", "-1", *SIM),
        "--seed",
    ),
    Case(
        "--k larger than --n",
        _argv("simulate", "--game", "{game}", "--k", "20", "--n", "10", *SIM),
        "--k",
    ),
]


def _near_one_gamma(tmp: Path, base: Base) -> list[str]:
    from altmarl.game import TabularGame
    from altmarl.policies import GlobalPolicy, LocalPolicy
    from altmarl.policy_dir import save_policy_dir

    a = base.arrays()
    path = write_npz(tmp / "g.npz", **{**a, "gamma": np.float64(1 - 1e-12)})
    game = TabularGame.from_npz(path)
    pi_g = GlobalPolicy.constant(
        0,
        num_global_states=game.num_sg,
        num_actions=game.num_ag,
        k=2,
        num_local_states=game.num_sl,
    )
    pi_l = LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
    save_policy_dir(tmp / "p", pi_g, pi_l, game_fingerprint=game.fingerprint)
    return [
        "llearn",
        "--game",
        str(path),
        "--k",
        "2",
        "--global-policy-dir",
        str(tmp / "p"),
        "--oracle",
        "planning",
    ]


def _meta_k(value: object, needle: str = "k") -> Case:
    def build(tmp: Path, base: Base) -> list[str]:
        pol = tmp / "p"
        shutil.copytree(base.policy, pol)
        meta = json.loads((pol / "meta.json").read_text())
        meta["k"] = value
        (pol / "meta.json").write_text(json.dumps(meta))
        return ["simulate", "--game", str(base.game), "--policy-dir", str(pol), "--n", "10", *SIM]

    return Case(f"policy dir: meta.json k = {json.dumps(value)}", build, needle)


MEMORY_CASES = [
    Case(
        "train --k 200",
        _argv("train", "--scenario", "warehouse", "--k", "200", "--out", "{tmp}/r"),
        "k=200",
    ),
    Case(
        "reproduce --k-values 200",
        _argv(
            "reproduce",
            "warehouse",
            "--k-values",
            "200",
            "--seeds",
            "1",
            "--workers",
            "1",
            "--out",
            "{tmp}/study",
        ),
        "k=200",
    ),
    Case(
        "glearn --k 200",
        _argv("glearn", "--scenario", "warehouse", "--k", "200"),
        "k=200",
    ),
    Case(
        "evaluate --exact --n 1e9",
        _argv(
            "evaluate",
            "--game",
            "{game}",
            "--policy-dir",
            "{pol}",
            "--n",
            "1e9",
            "--k",
            "2",
            "--exact",
            *SIM,
        ),
        "--n",
    ),
    Case(
        "certify --n 1e9",
        _argv("certify", "--game", "{game}", "--policy-dir", "{pol}", "--n", "1e9", "--k", "2"),
        "--n",
    ),
    Case("llearn at gamma = 1 - 1e-12", _near_one_gamma, "gamma"),
    Case(
        "llearn --T 1e9",
        _argv(
            "llearn",
            "--game",
            "{game}",
            "--k",
            "2",
            "--global-policy-dir",
            "{pol}",
            "--oracle",
            "planning",
            "--T",
            "1000000000",
        ),
        "--T",
    ),
    Case(
        "simulate --rollouts 1e10",
        _argv("simulate", "--game", "{game}", "--rollouts", "10000000000", "--horizon", "3"),
        "--rollouts",
    ),
    _meta_k(10**9),
]


def _policy_case(name: str, mutate: Callable[[Path], None], needle: str = "--policy-dir") -> Case:
    def build(tmp: Path, base: Base) -> list[str]:
        pol = tmp / "p"
        shutil.copytree(base.policy, pol)
        mutate(pol)
        return ["simulate", "--game", str(base.game), "--policy-dir", str(pol), "--n", "10", *SIM]

    return Case(f"policy dir: {name}", build, needle)


def _npz_edit(**changes: object) -> Callable[[Path], None]:
    def mutate(pol: Path) -> None:
        with np.load(pol / "policy.npz") as data:
            arrays = {k: data[k] for k in data.files}
        arrays.update(changes)
        np.savez(pol / "policy.npz", **arrays)  # type: ignore[arg-type]

    return mutate


def _meta_edit(text: str) -> Callable[[Path], None]:
    return lambda pol: (pol / "meta.json").write_text(text)


def _truncate_policy(pol: Path) -> None:
    data = (pol / "policy.npz").read_bytes()
    (pol / "policy.npz").write_bytes(data[: len(data) // 2])


def _corrupt_policy(pol: Path) -> None:
    path = pol / "policy.npz"
    np.savez_compressed(path, **dict(np.load(path)))
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("local_table.npy")
    flip_byte(path, info.header_offset + 30 + len(info.filename) + info.compress_size // 2)


def _other_game(tmp: Path, base: Base, command: str) -> list[str]:
    a = base.arrays()
    r_g = a["r_g"].copy()
    r_g[0, 0] += 0.5
    game = write_npz(tmp / "other.npz", **{**a, "r_g": r_g})
    if command == "certify":
        return [
            "certify",
            "--game",
            str(game),
            "--policy-dir",
            str(base.policy),
            "--n",
            "4",
            "--k",
            "2",
        ]
    if command == "evaluate":
        return [
            "evaluate",
            "--game",
            str(game),
            "--policy-dir",
            str(base.policy),
            "--n",
            "4",
            "--k",
            "2",
            *SIM,
        ]
    return ["simulate", "--game", str(game), "--policy-dir", str(base.policy), "--n", "4", *SIM]


POLICY_CASES = [
    _policy_case("missing", lambda pol: shutil.rmtree(pol)),
    _policy_case("truncated policy.npz", _truncate_policy),
    _policy_case("zero-byte policy.npz", lambda pol: (pol / "policy.npz").write_bytes(b"")),
    _policy_case("corrupt (CRC) policy.npz", _corrupt_policy),
    _meta_k("abc"),
    _meta_k(None),
    _meta_k(2.7),
    _meta_k(True),
    _meta_k(-1),
    _policy_case("meta.json not JSON", _meta_edit("{k: 2"), "meta.json"),
    _policy_case("meta.json a list", _meta_edit("[1, 2]"), "meta.json"),
    _policy_case("global_table of strings", _npz_edit(global_table=np.array([["a", "b"]]))),
    _policy_case("global_table not integer", _npz_edit(global_table=np.full((2, 3), 0.5))),
    _policy_case("global_table 3-D", _npz_edit(global_table=np.zeros((2, 3, 1), int))),
    _policy_case("local_table with NaN", _npz_edit(local_table=np.full((2, 2, 2), np.nan))),
    _policy_case("local_table rows not summing to 1", _npz_edit(local_table=np.ones((2, 2, 2)))),
    _policy_case("complex local_table", _npz_edit(local_table=np.full((2, 2, 2), 0.5 + 0j))),
    _policy_case(
        "unknown parameterization",
        lambda pol: _meta_set(pol, parameterization="tabular"),
        "parameterization",
    ),
    Case("other game (simulate)", lambda tmp, base: _other_game(tmp, base, "simulate"), "game"),
    Case("other game (evaluate)", lambda tmp, base: _other_game(tmp, base, "evaluate"), "game"),
    Case("other game (certify)", lambda tmp, base: _other_game(tmp, base, "certify"), "game"),
]


def _meta_set(pol: Path, **changes: object) -> None:
    meta = json.loads((pol / "meta.json").read_text())
    meta.update(changes)
    (pol / "meta.json").write_text(json.dumps(meta))


def _resume_case(name: str, mutate: Callable[[Path], None], needle: str = "--resume") -> Case:
    def build(tmp: Path, base: Base) -> list[str]:
        run = copy_run(base, tmp)
        mutate(run)
        return ["train", "--game", str(base.game), *TRAIN, "--out", str(run), "--resume"]

    return Case(f"--resume: {name}", build, needle)


def _write_run_file(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda run: run_file(run, name).write_bytes(data)


def _pickled_q(run: Path) -> None:
    path = run_file(run, "q_warm.npy")
    np.save(path, np.array([{"x": 1}], dtype=object), allow_pickle=True)


def _q_shape(run: Path) -> None:
    np.save(run_file(run, "q_warm.npy"), np.zeros((3, 3)))


def _meta_step(run: Path) -> None:
    meta = run_file(run, "policy") / "meta.json"
    record = json.loads(meta.read_text())
    record["step"] = 1
    meta.write_text(json.dumps(record))


def _history_drop_row(run: Path) -> None:
    path = run_file(run, "history.csv")
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))


def _resume_other_game(tmp: Path, base: Base) -> list[str]:
    run = copy_run(base, tmp)
    argv = _other_game(tmp, base, "simulate")
    return ["train", "--game", argv[2], *TRAIN, "--out", str(run), "--resume"]


RESUME_CASES = [
    _resume_case("state.json not JSON", _write_run_file("state.json", b"{step: 3")),
    _resume_case(
        "state.json step a string",
        _write_run_file("state.json", b'{"step": "abc", "terminated": false}'),
    ),
    _resume_case("history.csv garbage", _write_run_file("history.csv", b"\x00\xff garbage\n1,2\n")),
    _resume_case("history.csv lost a row", _history_drop_row),
    _resume_case("missing config.json", lambda run: (run / "config.json").unlink()),
    _resume_case("config.json not JSON", lambda run: (run / "config.json").write_text("{")),
    _resume_case("empty q_warm.npy", _write_run_file("q_warm.npy", b"")),
    _resume_case("pickled q_warm.npy", _pickled_q),
    _resume_case("q_warm.npy of the wrong shape", _q_shape),
    _resume_case("policy meta step differs from state", _meta_step),
    Case("--resume: other game", _resume_other_game, "game"),
]


def _existing_file(tmp: Path) -> str:
    (tmp / "f").write_text("x")
    return str(tmp / "f")


def _second_writer(tmp: Path, base: Base) -> list[str]:
    """Holds the lock of ``--out`` as a concurrent ``train`` would (an OS file lock)."""
    import fcntl

    out = tmp / "r"
    out.mkdir()
    fh = (out / ".lock").open("a+")
    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _HELD.append(fh)
    return ["train", "--game", str(base.game), *TRAIN, "--out", str(out)]


_HELD: list[io.TextIOWrapper] = []

OUT_CASES = [
    Case(
        "train --out an existing file",
        lambda tmp, base: ["train", "--game", str(base.game), *TRAIN, "--out", _existing_file(tmp)],
        "--out",
    ),
    Case(
        "glearn --out an existing file",
        lambda tmp, base: [
            "glearn",
            "--game",
            str(base.game),
            "--k",
            "2",
            "--m",
            "exact",
            "--out",
            _existing_file(tmp),
        ],
        "--out",
    ),
    Case(
        "reproduce --out an existing file",
        lambda tmp, base: [
            "reproduce",
            "warehouse",
            "--k-values",
            "1",
            "--seeds",
            "1",
            "--out",
            _existing_file(tmp),
        ],
        "--out",
    ),
    Case(
        "glearn --out a trained run's policy/",
        lambda tmp, base: [
            "glearn",
            "--game",
            str(base.game),
            "--k",
            "2",
            "--m",
            "exact",
            "--out",
            str(copy_run(base, tmp) / "policy"),
        ],
        "--out",
    ),
    Case(
        "glearn --out an existing policy directory",
        lambda tmp, base: [
            "glearn",
            "--game",
            str(base.game),
            "--k",
            "2",
            "--m",
            "exact",
            "--out",
            str(shutil.copytree(base.policy, tmp / "p")),
        ],
        "--out",
    ),
    Case(
        "llearn --out an existing policy directory",
        lambda tmp, base: [
            "llearn",
            "--game",
            str(base.game),
            "--k",
            "2",
            "--oracle",
            "planning",
            "--global-policy-dir",
            str(base.policy),
            "--out",
            str(shutil.copytree(base.policy, tmp / "p")),
        ],
        "--out",
    ),
    Case("train: a second writer on --out", _second_writer, "--out"),
]

QUICK_STUDY = ["--k-values", "1", "--seeds", "1", "--alternations", "1", "--rollouts", "2"]
QUICK_STUDY += ["--horizon", "5", "--workers", "1"]


def _study_files(tmp: Path, protocol: bool, rows: str | None) -> Path:
    """A study directory as a sweep of QUICK_STUDY leaves it (its protocol, its results)."""
    from altmarl.experiments.warehouse import FIELDNAMES, WarehouseStudy

    out = tmp / "study"
    out.mkdir()
    study = WarehouseStudy(k_values=(1,), seeds=1, alternations=1, rollouts=2, horizon=5)
    if protocol:
        (out / "study.json").write_text(json.dumps(study.to_json()))
    if rows is not None:
        header = ["k", "seed", *FIELDNAMES, "status", "attempts", "error", "job_seconds"]
        (out / "results.csv").write_text(",".join(header) + "\n" + rows)
    return out


SWEEP_CASES = [
    Case(
        "reproduce: a started study rerun without --resume",
        lambda tmp, base: [
            "reproduce",
            "warehouse",
            *QUICK_STUDY,
            "--n",
            "50",
            "--out",
            str(_study_files(tmp, protocol=True, rows=None)),
        ],
        "--resume",
    ),
    Case(
        "reproduce --resume: study.json not JSON",
        lambda tmp, base: [
            "reproduce",
            "warehouse",
            *QUICK_STUDY,
            "--resume",
            "--out",
            str(_write(_study_files(tmp, False, None) / "study.json", "{")),
        ],
        "study.json",
    ),
    Case(
        "reproduce --resume: a damaged row in results.csv",
        lambda tmp, base: [
            "reproduce",
            "warehouse",
            *QUICK_STUDY,
            "--resume",
            "--out",
            str(_study_files(tmp, True, "1,0,1.5\n1,0,2.5,3\n")),
        ],
        "results.csv",
    ),
    Case(
        "--memory-budget not a positive number",
        _argv("simulate", "--game", "{game}", "--memory-budget", "-1", *SIM),
        "--memory-budget",
    ),
]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path.parent


CASES = (
    GAME_CASES + NUMBER_CASES + MEMORY_CASES + POLICY_CASES + RESUME_CASES + OUT_CASES + SWEEP_CASES
)


# ----------------------------------------------------------------------------- outcomes


def outcome(code: int | str, err: str) -> str:
    """A short description of what the user saw."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    if isinstance(code, str) or "Traceback" in err:
        name = code if isinstance(code, str) else err.strip().splitlines()[-1].split(":")[0]
        return f"traceback ({name})"
    if code == 0:
        return "accepted with a warning (exit 0)" if lines else "accepted silently (exit 0)"
    if code == 2 and len(lines) == 1:
        return "refused: exit 2, one line"
    return f"exit {code}, {len(lines)} lines"


def run_case(case: Case, tmp: Path, base: Base) -> tuple[int | str, str]:
    argv = case.build(tmp, base)
    with warnings.catch_warnings():
        code, _, err = run_cli(argv)
    while _HELD:
        _HELD.pop().close()
    return code, err


# ----------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    return make_base(tmp_path_factory.mktemp("boundary"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_in_one_line(case: Case, base: Base, tmp_path: Path) -> None:
    code, err = run_case(case, tmp_path, base)
    assert outcome(code, err) == "refused: exit 2, one line", err
    assert case.needle in err, err


# ----------------------------------------------------------------------------- the table


def print_table(limit_gb: float | None) -> None:
    if limit_gb is not None:
        import resource

        cap = int(limit_gb * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    with tempfile.TemporaryDirectory() as tmp:
        base = make_base(Path(tmp) / "base")
        print("| # | bad-input class | outcome | seconds |")
        print("| --- | --- | --- | --- |")
        for i, case in enumerate(CASES, 1):
            work = Path(tmp) / f"case{i}"
            work.mkdir()
            t0 = time.perf_counter()
            try:
                code, err = run_case(case, work, base)
                result = outcome(code, err)
                if result.startswith("refused") and case.needle not in err:
                    result += f" (without {case.needle!r})"
            except Exception as exc:  # the case could not even be built
                result = f"not run ({type(exc).__name__}: {exc})"
            print(f"| {i} | {case.name} | {result} | {time.perf_counter() - t0:.1f} |", flush=True)


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--limit-gb", type=float, default=None)
    os.environ.setdefault("MPLBACKEND", "Agg")
    print_table(cli.parse_args().limit_gb)
    sys.exit(0)


# ----------------------------------------------------------------------------- the way out
# Each refusal above that a user may overrule has a flag; these check the flags work.


def test_force_overwrites_an_existing_policy_directory(base: Base, tmp_path: Path) -> None:
    out = shutil.copytree(base.policy, tmp_path / "p")
    argv = ["glearn", "--game", str(base.game), "--k", "2", "--m", "exact", "--out", str(out)]
    code, _, err = run_cli([*argv, "--force"])
    assert code == 0, err
    assert json.loads((out / "meta.json").read_text())["source"] == "glearn"
    assert (out / "q.npy").is_file()


def test_allow_other_game_runs_with_one_warning_line(base: Base, tmp_path: Path) -> None:
    argv = _other_game(tmp_path, base, "simulate")
    code, _, err = run_cli([*argv, "--allow-other-game"])
    assert code == 0
    assert err.count("\n") == 1 and "warning:" in err and "another game" in err


def test_memory_budget_flag_governs_this_command_only(base: Base) -> None:
    from altmarl.memory import ENV_VAR

    before = os.environ.get(ENV_VAR)
    code, _, err = run_cli(
        ["glearn", "--scenario", "warehouse", "--k", "20", "--memory-budget", "0.001"]
    )
    assert code == 2 and "memory budget of 0.001 GiB" in err and "k=20" in err
    assert os.environ.get(ENV_VAR) == before
