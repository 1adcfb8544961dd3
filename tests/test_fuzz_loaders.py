"""Fuzzing the loaders of user files: game files, policy directories, run directories.

Hypothesis builds malformed inputs from valid ones: keys dropped or added, arrays replaced
by others of random shape and dtype (complex, text, objects included), JSON fields replaced
by random JSON, then the bytes truncated, flipped or extended. The loaders the CLI uses
(``--game``, ``--policy-dir``, ``train --resume``) may only succeed or refuse with an
:class:`~altmarl.errors.AltmarlError` (exit status 2); any other exception is a bug.

Derandomized (a fixed sequence of examples, no example database), so CI sees the same
inputs every run; about 150 examples per loader, a few seconds in all.

Top level, not beside one module (cross-cutting): the loaders of three kinds of user file.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from altmarl.alternating import AlternatingConfig, AlternatingMARL
from altmarl.alternating.rundir import RunDirectory
from altmarl.cli._common import load_game
from altmarl.errors import AltmarlError
from altmarl.policy_dir import load_policy_dir
from altmarl.scenarios import random_game

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
GAME = random_game(0)
CONFIG = AlternatingConfig(
    k=2, n=4, alternations=1, evaluation="exact", m=None, local_oracle="planning", eps_tol=1e-3
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("fuzz") / "run"
    AlternatingMARL(GAME, CONFIG).run(run, progress=False)
    return run


# ----------------------------------------------------------------------------- strategies

DTYPES = ["f8", "f4", "i8", "i4", "u1", "?", "c16", "U3", "S2", "O", "M8[s]"]


@st.composite
def arrays(draw) -> np.ndarray:
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=4)))
    size = int(np.prod(shape))
    if dtype == "O":
        return np.array([{"x": i} for i in range(size)] or [None], dtype=object)
    values = draw(
        st.lists(
            st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=size, max_size=size
        )
    )
    base = np.array(values, dtype=np.float64).reshape(shape)
    with np.errstate(all="ignore"):
        if dtype in ("U3", "S2"):
            return base.astype(str).astype(dtype)
        if dtype == "M8[s]":
            return np.zeros(shape, dtype=dtype)
        return np.nan_to_num(base).astype(dtype) if dtype[0] in "iu?" else base.astype(dtype)


def npz_bytes(members: dict[str, np.ndarray], compressed: bool) -> bytes:
    buf = io.BytesIO()
    save = np.savez_compressed if compressed else np.savez
    if any(a.dtype.hasobject for a in members.values()):
        with zipfile.ZipFile(buf, "w") as zf:  # np.savez refuses nothing, but be explicit
            for key, arr in members.items():
                inner = io.BytesIO()
                np.save(inner, arr, allow_pickle=True)
                zf.writestr(f"{key}.npy", inner.getvalue())
    else:
        save(buf, **members)  # type: ignore[arg-type]
    return buf.getvalue()


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """``data`` truncated, with bytes flipped, or extended (or left whole)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["truncate", "flip", "append", "none"]))
        if op == "truncate" and out:
            del out[draw(st.integers(0, len(out) - 1)) :]
        elif op == "flip" and out:
            i = draw(st.integers(0, len(out) - 1))
            out[i] ^= draw(st.integers(1, 255))
        elif op == "append":
            out += draw(st.binary(max_size=64))
    return bytes(out)


@st.composite
def mutated_members(draw, members: dict[str, np.ndarray], keys: list[str]) -> dict[str, np.ndarray]:
    members = dict(members)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["drop", "replace", "add", "scale"]))
        key = draw(st.sampled_from(keys))
        if op == "drop":
            members.pop(key, None)
        elif op == "replace":
            members[key] = draw(arrays())
        elif op == "add":
            members[draw(st.sampled_from(["extra", "x", key + "_"]))] = draw(arrays())
        elif op == "scale" and key in members and members[key].dtype.kind == "f":
            factor = draw(st.sampled_from([-1.0, 0.0, 1e308, 1e-308, np.nan, np.inf]))
            with np.errstate(all="ignore"):
                members[key] = members[key] * factor
    return members


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)


def _only_clean_refusals(call) -> None:
    try:
        call()
    except AltmarlError as exc:
        assert str(exc) and "\n" not in str(exc).strip().splitlines()[0]


# ----------------------------------------------------------------------------- tests

GAME_MEMBERS = {
    "P_g": GAME.P_g,
    "P_l": GAME.P_l,
    "r_g": GAME.r_g,
    "r_l": GAME.r_l,
    "gamma": np.float64(GAME.gamma),
    "rho_g": GAME.rho_g,
}


@FUZZ
@given(data=st.data())
def test_game_files(data):
    members = data.draw(mutated_members(GAME_MEMBERS, [*GAME_MEMBERS, "rho_l"]))
    raw = npz_bytes(members, data.draw(st.booleans()))
    raw = data.draw(damaged(raw))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.npz"
        path.write_bytes(raw)
        args = argparse.Namespace(game=path, scenario=None)
        _only_clean_refusals(lambda: load_game(args))


@FUZZ
@given(data=st.data())
def test_policy_directories(data, run_dir):
    src = run_dir / "policy"
    with np.load(src / "policy.npz") as f:
        members = {k: f[k] for k in f.files}
    members = data.draw(mutated_members(members, [*members]))
    raw = data.draw(damaged(npz_bytes(members, data.draw(st.booleans()))))
    meta = json.loads((src / "meta.json").read_text())
    for _ in range(data.draw(st.integers(0, 2))):
        key = data.draw(st.sampled_from([*meta, "step", "extra"]))
        meta[key] = data.draw(JSON)
    meta_text = json.dumps(meta)
    if data.draw(st.booleans()):
        meta_text = data.draw(damaged(meta_text.encode())).decode("latin-1")
    with tempfile.TemporaryDirectory() as tmp:
        pol = Path(tmp) / "p"
        pol.mkdir()
        (pol / "policy.npz").write_bytes(raw)
        (pol / "meta.json").write_text(meta_text, encoding="latin-1")
        _only_clean_refusals(lambda: load_policy_dir(pol, GAME))


@FUZZ
@given(data=st.data())
def test_run_directories_on_resume(data, run_dir):
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        shutil.copytree(run_dir, run, symlinks=True)
        step = run / "current"
        for _ in range(data.draw(st.integers(1, 3))):
            name = data.draw(st.sampled_from(["state.json", "history.csv", "q_warm.npy"]))
            path = step / name
            if name == "state.json" and data.draw(st.booleans()):
                record = json.loads((run_dir / "current" / name).read_text())
                record[data.draw(st.sampled_from([*record, "x"]))] = data.draw(JSON)
                path.write_text(json.dumps(record))
            elif name == "q_warm.npy" and data.draw(st.booleans()):
                buf = io.BytesIO()
                np.save(buf, data.draw(arrays()), allow_pickle=True)
                path.write_bytes(buf.getvalue())
            else:
                path.write_bytes(data.draw(damaged(path.read_bytes())))
        directory = RunDirectory(run)
        config = CONFIG.to_json()
        _only_clean_refusals(lambda: directory.load(GAME, config))
