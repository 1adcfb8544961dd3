"""Reading the ``.npy`` and ``.npz`` files a user hands over, without trusting them.

numpy's loaders trust the file: a header may claim a billion floats in a 2 KB file (numpy
reserves the memory before it finds out), a truncated or corrupt archive surfaces as
``BadZipFile``, ``EOFError`` or ``zlib.error``, and a complex array silently loses its
imaginary part once converted. Here a file's size and each member's size are checked
against the memory budget before anything is read, every header is parsed with
``numpy.lib.format`` and its claimed size compared with the bytes actually present, the
archive's checksums are verified, object (pickled), string, complex and structured dtypes
are refused, and every failure becomes one :class:`~altmarl.errors.AltmarlError` naming
the file (its ``label``).
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from altmarl.errors import AltmarlError
from altmarl.memory import check_memory

#: dtype kinds accepted by default: booleans, signed and unsigned integers, real floats.
REAL_KINDS = "biuf"

_KIND_NAMES = {
    "c": "complex numbers",
    "U": "text",
    "S": "bytes",
    "O": "Python objects (pickled data, never loaded)",
    "V": "structured records",
    "M": "dates",
    "m": "time spans",
}
_NPY_MAGIC = b"\x93NUMPY"
# what a damaged file can raise while zipfile or numpy.lib.format read it
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    SyntaxError,
    TypeError,
    KeyError,
    OverflowError,
    RecursionError,
    NotImplementedError,
    RuntimeError,
    struct.error,
    UnicodeDecodeError,
)


def read_npy_bytes(
    data: bytes, label: str, kinds: str = REAL_KINDS, error: type[AltmarlError] = AltmarlError
) -> np.ndarray:
    """The array in ``data`` (the bytes of one ``.npy``), checked as described above."""
    buf = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buf)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(buf)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(buf)
        else:
            raise ValueError(f"unknown .npy format version {version}")
    except _READ_ERRORS as exc:
        raise error(f"{label}: not a readable .npy array ({_first_line(exc)})") from None
    if dtype.kind not in kinds or dtype.hasobject or dtype.subdtype is not None:
        what = _KIND_NAMES.get(dtype.kind, f"dtype {dtype}")
        if dtype.hasobject:
            what = _KIND_NAMES["O"]
        raise error(f"{label} holds {what}; it must hold real numbers")
    count = math.prod(shape)
    claimed = count * dtype.itemsize
    present = len(data) - buf.tell()
    if claimed != present:
        raise error(
            f"{label}: its header claims shape {tuple(shape)} ({claimed} bytes) but the file "
            f"holds {present} bytes of data (truncated or damaged)"
        )
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=buf.tell())
    return arr.reshape(shape, order="F" if fortran else "C").copy()


def read_npy(
    path: str | Path,
    label: str,
    kinds: str = REAL_KINDS,
    error: type[AltmarlError] = AltmarlError,
) -> np.ndarray:
    """One array from a ``.npy`` file (see the module docstring)."""
    data = _read_file(Path(path), label, error)
    return read_npy_bytes(data, label, kinds, error)


def read_npz(
    path: str | Path,
    label: str,
    kinds: str = REAL_KINDS,
    error: type[AltmarlError] = AltmarlError,
) -> dict[str, np.ndarray]:
    """``{key: array}`` of a ``.npz`` archive (see the module docstring)."""
    path = Path(path)
    _check_file(path, label, error)
    with path.open("rb") as fh:
        head = fh.read(len(_NPY_MAGIC))
    if head == _NPY_MAGIC:
        raise error(f"{label} is a single .npy array, not an .npz archive (numpy.savez)")
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            total = sum(m.file_size for m in members)
            check_memory(total, f"{label} ({len(members)} arrays, {total} bytes unpacked)")
            for info in members:
                if not info.filename.endswith(".npy") or info.is_dir():
                    raise error(f"{label}: unexpected member {info.filename!r} (not an array)")
                key = info.filename[: -len(".npy")]
                data = zf.read(info)  # checks the CRC
                arrays[key] = read_npy_bytes(data, f"{label}: array {key!r}", kinds, error)
    except AltmarlError:
        raise
    except _READ_ERRORS as exc:
        raise error(
            f"{label}: not a readable .npz archive ({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    return arrays


def _check_file(path: Path, label: str, error: type[AltmarlError]) -> int:
    if path.is_dir():
        raise error(f"{label} is a directory, not a file")
    if not path.is_file():
        raise error(f"{label}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise error(f"{label} is empty (0 bytes)")
    return size


def _read_file(path: Path, label: str, error: type[AltmarlError]) -> bytes:
    size = _check_file(path, label, error)
    check_memory(size, f"{label} ({size} bytes)")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(f"{label}: cannot read ({exc})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
