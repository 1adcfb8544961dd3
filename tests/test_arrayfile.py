"""Checked reading of .npy/.npz files (``arrayfile.py``): what numpy writes reads back
exactly; what it should not trust is refused before anything large is allocated."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import numpy as np
import pytest

from altmarl.arrayfile import read_npy, read_npy_bytes, read_npz
from altmarl.errors import AltmarlError


def _npy(arr: np.ndarray, version: tuple[int, int] | None = None) -> bytes:
    buf = io.BytesIO()
    if version is None:
        np.save(buf, arr, allow_pickle=True)
    else:
        np.lib.format.write_array(buf, arr, version=version, allow_pickle=True)
    return buf.getvalue()


@pytest.mark.parametrize("version", [None, (1, 0), (2, 0), (3, 0)])
@pytest.mark.parametrize(
    "arr",
    [
        np.arange(12.0).reshape(3, 4),
        np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)),
        np.array(0.95),
        np.zeros((0, 5)),
        np.array([True, False]),
        np.arange(6, dtype=">f8"),
        np.arange(4, dtype=np.uint8),
    ],
)
def test_reads_back_what_numpy_writes(arr, version):
    out = read_npy_bytes(_npy(arr, version), "x")
    assert out.dtype == arr.dtype and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable


@pytest.mark.parametrize(
    "arr, needle",
    [
        (np.array([1 + 2j]), "complex numbers"),
        (np.array(["a"]), "text"),
        (np.array([b"a"]), "bytes"),
        (np.array([{"a": 1}], dtype=object), "Python objects"),
        (np.zeros(2, dtype=[("a", "f8")]), "structured records"),
        (np.zeros(2, dtype="M8[s]"), "dates"),
    ],
)
def test_refuses_what_is_not_real_numbers(arr, needle):
    with pytest.raises(AltmarlError, match=f"x holds {needle}"):
        read_npy_bytes(_npy(arr), "x")


def test_a_header_is_checked_against_the_bytes_before_anything_is_allocated():
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    data = header.getvalue() + b"\0" * 80
    tracemalloc.start()
    with pytest.raises(AltmarlError, match=r"claims shape \(1000000000000,\) .* holds 80 bytes"):
        read_npy_bytes(data, "x")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000  # 8 TB claimed; well under a megabyte used
    truncated = _npy(np.arange(10.0))[:-8]
    with pytest.raises(AltmarlError, match="holds 72 bytes"):
        read_npy_bytes(truncated, "x")
    with pytest.raises(AltmarlError, match=r"not a readable \.npy array"):
        read_npy_bytes(b"\x93NUMPY\x01\x00" + b"\xff" * 20, "x")


def test_npz_archives(tmp_path):
    path = tmp_path / "a.npz"
    np.savez_compressed(path, a=np.arange(3.0), b=np.eye(2))
    got = read_npz(path, "f")
    assert set(got) == {"a", "b"}
    np.testing.assert_array_equal(got["b"], np.eye(2))
    np.save(tmp_path / "x.npy", np.arange(3.0))
    (tmp_path / "x.npy").rename(tmp_path / "x.npz")
    with pytest.raises(AltmarlError, match=r"single \.npy array"):
        read_npz(tmp_path / "x.npz", "f")
    np.save(tmp_path / "y.npy", np.arange(3.0))
    np.testing.assert_array_equal(read_npy(tmp_path / "y.npy", "f"), np.arange(3.0))
    with zipfile.ZipFile(tmp_path / "odd.npz", "w") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(AltmarlError, match=r"unexpected member 'notes\.txt'"):
        read_npz(tmp_path / "odd.npz", "f")


def test_a_member_larger_than_the_budget_is_not_unpacked(tmp_path, monkeypatch):
    """A zip member's declared size is checked against the budget before it is read
    (a compressed bomb never expands)."""
    monkeypatch.setenv("ALTMARL_MEMORY_BUDGET_GB", "0.001")  # about 1 MB
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, a=np.zeros(2_000_000))  # 16 MB of zeros, a few KB packed
    assert path.stat().st_size < 100_000
    with pytest.raises(AltmarlError, match="memory budget"):
        read_npz(path, "f")
