"""Durable files: atomic writes, the commit primitives of a checkpoint, the directory lock.

Every byte altmarl persists passes through :func:`_write`, every rename through
:func:`_rename` and every symbolic link through :func:`_symlink` (tests inject crashes at
exactly these boundaries). A file is written under a temporary name, flushed and fsynced,
renamed into place, and its directory fsynced, so that a process killed at any moment, or a
power cut, leaves the old file or the new one, never a mix.

:func:`lock_directory` holds an OS file lock (``flock``) on ``DIR/.lock`` for the life of a
writer: a second writer is refused with the holder's pid, and the lock goes away with its
process however that ends (exit, exception, SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from altmarl.errors import DirectoryInUseError, RunDirectoryError

try:  # POSIX; elsewhere directories are not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: The lock file inside a locked directory (it stays; it holds the last holder's pid).
LOCK_FILE = ".lock"


# ------------------------------------------------------------------ the three primitives


def _write(fh: BinaryIO, data: bytes) -> None:
    fh.write(data)


def _rename(src: Path, dst: Path) -> None:
    os.replace(src, dst)


def _symlink(target: str, link: Path) -> None:
    os.symlink(target, link)


def _sync(fd: int) -> None:
    os.fsync(fd)  # durability across a power cut; a killed process needs none of it


# ------------------------------------------------------------------ built on them


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (created, renamed files) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        _sync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes) -> None:
    """Create (or truncate) ``path`` with ``data``, flushed and fsynced. Not atomic on its
    own: for files of a directory that is committed as a whole by a rename."""
    with open(path, "wb") as fh:
        _write(fh, data)
        fh.flush()
        _sync(fh.fileno())


def atomic_write(path: Path, data: bytes | str) -> None:
    """Replace ``path`` by ``data`` atomically (a temporary file, fsync, rename, fsync)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    write_new(tmp, data.encode() if isinstance(data, str) else data)
    _rename(tmp, path)
    fsync_dir(path.parent)


def append_durably(fh: BinaryIO, data: bytes) -> None:
    """Append ``data`` to an open file and make it durable before returning."""
    _write(fh, data)
    fh.flush()
    _sync(fh.fileno())


def rename_durably(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` (atomic) and make the rename durable."""
    _rename(src, dst)
    fsync_dir(Path(dst).parent)


def point_link(link: Path, target: str) -> None:
    """Point the symbolic link ``link`` at ``target`` atomically (a new link renamed over it)."""
    tmp = link.with_name(f".{link.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        _symlink(target, tmp)
    except OSError as exc:
        raise RunDirectoryError(
            f"{link.parent}: cannot create a symbolic link there ({exc}); use a directory "
            "on a local filesystem"
        ) from None
    _rename(tmp, link)
    fsync_dir(link.parent)


def prepare_directory(path: Path, flag: str = "--out") -> Path:
    """Create ``path`` (and parents) for writing; refuse an existing file in the way."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirectoryError(f"{flag} {path} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise RunDirectoryError(f"{flag} {path}: a file is in the way of the directory") from None
    except OSError as exc:
        raise RunDirectoryError(f"{flag} {path}: cannot create the directory ({exc})") from None
    return path


@contextlib.contextmanager
def lock_directory(path: Path, flag: str = "--out") -> Iterator[Path]:
    """Hold the lock of directory ``path`` (created if needed) while the block runs.

    Raises :class:`~altmarl.errors.DirectoryInUseError` at once if another process holds
    it. The lock is tied to an open file descriptor, so it is released when the block
    ends, however it ends, and when the process dies.
    """
    path = prepare_directory(path, flag)
    if fcntl is None:  # pragma: no cover - Windows
        yield path
        return
    try:
        fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise RunDirectoryError(f"{flag} {path}: cannot write there ({exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if not isinstance(exc, BlockingIOError):
                raise RunDirectoryError(
                    f"{flag} {path}: cannot lock the directory ({exc})"
                ) from None
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise DirectoryInUseError(
                f"{flag} {path} is in use by another altmarl process{who}; wait for it to "
                "finish or choose another directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)
