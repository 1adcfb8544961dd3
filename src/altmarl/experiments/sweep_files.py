"""A sweep's files (:mod:`altmarl.experiments.sweep`): ``results.csv`` and ``study.json``.

``results.csv`` gets one line per finished job, appended and fsynced (:class:`ResultsWriter`),
so a kill loses at most the line being written: :func:`repair_tail` moves such a torn last
line to ``results.torn``, :func:`check_results` refuses any other damage. ``study.json``
holds a study's protocol, written once (:func:`record_protocol`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from altmarl.errors import AltmarlError, AltmarlWarning, RunDirectoryError
from altmarl.storage import append_durably, atomic_write, fsync_dir

RESULTS_FILE = "results.csv"
#: Where a torn last line of ``results.csv`` is kept when a sweep resumes.
TORN_FILE = "results.torn"
PROTOCOL_FILE = "study.json"
STATUS_FIELDS = ("status", "attempts", "error", "job_seconds")


@dataclass(frozen=True)
class Job:
    """One cell of the grid: ``key`` identifies it (e.g. ``{"k": 10, "seed": 3}``),
    ``params`` is what the job function receives."""

    key: dict[str, Any]
    params: dict[str, Any]

    @property
    def key_id(self) -> str:
        return job_key_id(self.key)


def job_key_id(key: dict[str, Any]) -> str:
    """A job's key as one string, the same whether read back from ``results.csv`` or not."""
    return json.dumps({k: str(v) for k, v in key.items()}, sort_keys=True)


def read_results(path: str | Path) -> list[dict[str, str]]:
    """Rows of a ``results.csv`` (strings, as written)."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


class ResultsWriter:
    """Appends rows to results.csv, one fsynced line each (:mod:`altmarl.storage`)."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        repair_tail(path)
        existing = check_results(path)
        if existing and existing != list(columns):
            raise AltmarlError(
                f"{path} has columns {existing}, not {list(columns)}; "
                "it belongs to another kind of sweep"
            )
        self.columns = list(columns)
        self.fh = path.open("ab")
        if not existing:
            self._line(self.columns)

    def write(self, row: dict[str, Any]) -> None:
        self._line([_fmt(row[k]) if k in row else "" for k in self.columns])

    def _line(self, values: Sequence[Any]) -> None:
        buf = io.StringIO()
        csv.writer(buf).writerow(values)
        append_durably(self.fh, buf.getvalue().encode())

    def close(self) -> None:
        self.fh.close()


def repair_tail(path: Path) -> str | None:
    """Drop a torn last line of ``results.csv`` (a sweep killed while appending it) into
    ``results.torn``, warn, and return the message; ``None`` when the file is whole."""
    if not path.is_file():
        return None
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return None
    cut = data.rfind(b"\n") + 1
    torn = path.with_name(TORN_FILE)
    with torn.open("ab") as fh:
        append_durably(fh, data[cut:] + b"\n")
    with path.open("r+b") as fh:
        fh.truncate(cut)
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(path.parent)
    what = "its header" if cut == 0 else "its last row"
    msg = (
        f"{path}: {what} was incomplete (a sweep killed while writing it); moved it to "
        f"{torn.name}, and its job runs again"
    )
    warnings.warn(msg, AltmarlWarning, stacklevel=2)
    return msg


def check_results(path: Path) -> list[str]:
    """The header of ``results.csv`` (``[]`` if absent or empty), refusing a file whose rows
    do not all have the header's number of fields."""
    if not path.is_file():
        return []
    try:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RunDirectoryError(f"--out: {path} is not a readable CSV file ({exc})") from None
    if not rows:
        return []
    header = rows[0]
    for line, row in enumerate(rows[1:], 2):
        if len(row) != len(header):
            raise RunDirectoryError(
                f"--out: {path} line {line} has {len(row)} fields, its header {len(header)}: "
                "the file was edited or damaged; repair or move it"
            )
    return header


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):  # one record, one line: a torn record is then a torn line
        return " ".join(v.splitlines())
    if hasattr(v, "item"):
        return _fmt(v.item())
    return v


def unfinished_jobs(out: str | Path, jobs: Sequence[Job]) -> list[tuple[Job, str]]:
    """``(job, its last error)`` for every job of the grid without an ``ok`` record in
    ``out/results.csv`` (the error is empty for a job never run)."""
    rows = read_results(Path(out) / RESULTS_FILE)
    if not jobs:
        return []
    key_fields = list(jobs[0].key)
    done, errors = set(), {}
    for r in rows:
        key = job_key_id({k: r.get(k) for k in key_fields})
        if r.get("status") == "ok":
            done.add(key)
        else:
            errors[key] = r.get("error") or ""
    return [(j, errors.get(j.key_id, "")) for j in jobs if j.key_id not in done]


def record_protocol(out: Path, protocol: dict[str, Any], resume: bool) -> None:
    """Write ``out/study.json`` once, atomically, before any job; every later start must
    bring the same protocol (and ``resume``), so rows of two protocols never mix."""
    path = Path(out) / PROTOCOL_FILE
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise RunDirectoryError(f"--out: {path} is not readable JSON ({exc})") from None
        if not resume:
            raise AltmarlError(
                f"--out {out} already holds a sweep ({PROTOCOL_FILE}); pass --resume to "
                "continue it or choose another directory"
            )
        if not isinstance(saved, dict):
            raise RunDirectoryError(f"--out: {path} must hold a JSON object")
        if saved != protocol:
            keys = sorted(set(saved) | set(protocol))
            diff = [k for k in keys if saved.get(k) != protocol.get(k)]
            raise AltmarlError(
                f"--resume: {out} was started with a different protocol ({', '.join(diff)}); "
                "rerun with the original arguments"
            )
        return
    if len(read_results(Path(out) / RESULTS_FILE)) > 0 or (
        not resume and (Path(out) / RESULTS_FILE).is_file()
    ):
        raise AltmarlError(
            f"--out {out} holds {RESULTS_FILE} but no {PROTOCOL_FILE}: its rows follow an "
            "unknown protocol; move them away or choose another directory"
        )
    atomic_write(path, json.dumps(protocol, indent=2) + "\n")
