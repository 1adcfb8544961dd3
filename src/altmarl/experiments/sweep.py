"""A sweep runner: a grid of jobs on a local process pool (default) or on Ray.

Each job is a top-level function applied to a ``params`` dict; its record is appended to
``results.csv`` the moment it finishes (one line, fsynced), so an interrupted sweep loses
nothing and ``resume=True`` skips the jobs already recorded as ``ok``. A last line torn by a
kill is moved to ``results.torn`` (with a warning) when the sweep resumes; any other damage
to the file is refused. A job that raises is retried ``retries`` times and then recorded as
``failed`` with its error, without stopping the sweep. A progress bar shows jobs done /
total and the time left.

A sweep holds its directory's lock (:func:`~altmarl.storage.lock_directory`) while it runs,
and a study's protocol (``study.json``) is written once, atomically, before any job: every
later start must present the same protocol. Worker processes die with the sweep: on Linux
the kernel kills them when their parent dies (``PR_SET_PDEATHSIG``), elsewhere a watchdog
thread notices that the parent is gone.

Everything a job does must follow from its ``params`` (seeds included), so the same grid
gives the same records on either backend, in any order.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from altmarl.errors import AltmarlError, AltmarlWarning, RunDirectoryError
from altmarl.storage import append_durably, atomic_write, fsync_dir, lock_directory

RESULTS_FILE = "results.csv"
#: Where a torn last line of ``results.csv`` is kept when a sweep resumes.
TORN_FILE = "results.torn"
PROTOCOL_FILE = "study.json"
STATUS_FIELDS = ("status", "attempts", "error", "job_seconds")
BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class Job:
    """One cell of the grid: ``key`` identifies it (e.g. ``{"k": 10, "seed": 3}``),
    ``params`` is what the job function receives."""

    key: dict[str, Any]
    params: dict[str, Any]

    @property
    def key_id(self) -> str:
        return _key_id(self.key)


def _key_id(key: dict[str, Any]) -> str:
    return json.dumps({k: str(v) for k, v in key.items()}, sort_keys=True)


def read_results(path: str | Path) -> list[dict[str, str]]:
    """Rows of a ``results.csv`` (strings, as written)."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _call(fn: Callable[[dict[str, Any]], dict[str, Any]], params: dict[str, Any]):
    """Run one job; never raises (the error travels back as text)."""
    t0 = time.perf_counter()
    try:
        return True, fn(params), time.perf_counter() - t0
    except Exception as exc:  # a failed job is recorded, not fatal
        msg = f"{type(exc).__name__}: {exc}"
        tb = traceback.format_exc(limit=3).strip().splitlines()
        return (
            False,
            msg + (f" [{tb[-2].strip()}]" if len(tb) > 1 else ""),
            time.perf_counter() - t0,
        )


def _worker_init(threads: int, parent: int) -> None:
    # A worker must not outlive the sweep: when the parent is killed (SIGKILL leaves no
    # chance to shut the pool down) its idle workers would wait on their queue forever.
    _die_with_parent(parent)
    # Each process gets its share of the cores; numba would otherwise run one thread per
    # core in every worker and oversubscribe the machine. set_num_threads caps the threads
    # numba uses; NUMBA_NUM_THREADS must not change once numba has launched its pool
    # (unpickling the job may already have imported numba), so it is left alone.
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


def _die_with_parent(parent: int) -> None:
    """End this process when process ``parent`` ends."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:  # the parent died before the request took effect
                os._exit(1)
            return

    def watch() -> None:  # pragma: no cover - platforms without PR_SET_PDEATHSIG
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="altmarl-parent-watch").start()


class _Writer:
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


def run_sweep(
    jobs: Sequence[Job],
    fn: Callable[[dict[str, Any]], dict[str, Any]],
    out_dir: str | Path,
    *,
    fieldnames: Sequence[str],
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    resume: bool = False,
    retries: int = 1,
    progress: bool | None = None,
    on_result: Callable[[Job, dict[str, Any]], None] | None = None,
    lock: bool = True,
) -> list[dict[str, Any]]:
    """Run ``fn(job.params)`` for every job; append each record to ``out_dir/results.csv``.

    fieldnames : the record's columns written to CSV (after the key columns); a record may
        carry more (e.g. arrays) for ``on_result``, which runs in this process before the
        row is written.
    workers : processes (local) or CPUs (a local Ray instance); default all cores.
    lock : hold ``out_dir``'s lock while running (``False``: the caller holds it).
    Returns the records of this call's finished jobs (ok and failed).
    """
    if backend not in BACKENDS:
        raise AltmarlError(f"--backend {backend!r} must be one of {', '.join(BACKENDS)}")
    if not jobs:
        return []
    if workers is not None and workers < 1:
        raise AltmarlError(f"--workers {workers} must be >= 1")
    if lock:
        with lock_directory(Path(out_dir)):
            return run_sweep(
                jobs,
                fn,
                out_dir,
                fieldnames=fieldnames,
                backend=backend,
                workers=workers,
                ray_address=ray_address,
                resume=resume,
                retries=retries,
                progress=progress,
                on_result=on_result,
                lock=False,
            )
    out = Path(out_dir)
    path = out / RESULTS_FILE
    key_fields = list(jobs[0].key)
    columns = [*key_fields, *fieldnames, *STATUS_FIELDS]
    if resume:
        repair_tail(path)  # before reading: a torn row may look finished
    check_results(path)
    rows = read_results(path)
    if rows and not resume:
        raise AltmarlError(
            f"--out {out} already holds {RESULTS_FILE}; pass --resume to continue that sweep "
            "or choose another directory"
        )
    done = {_key_id({k: r[k] for k in key_fields}) for r in rows if r.get("status") == "ok"}
    todo = [j for j in jobs if j.key_id not in done]
    workers = workers or os.cpu_count() or 1
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(
        total=len(jobs), initial=len(jobs) - len(todo), disable=not show, unit="job", desc="sweep"
    )
    writer = _Writer(path, columns)
    finished: list[dict[str, Any]] = []
    try:
        run = _run_local if backend == "local" else _run_ray
        for job, ok, payload, seconds, attempts in run(todo, fn, workers, retries, ray_address):
            if ok:
                record = dict(payload)
                if on_result is not None:
                    on_result(job, record)
                row = {
                    **job.key,
                    **record,
                    "status": "ok",
                    "attempts": attempts,
                    "error": "",
                    "job_seconds": seconds,
                }
            else:
                row = {
                    **job.key,
                    "status": "failed",
                    "attempts": attempts,
                    "error": payload,
                    "job_seconds": seconds,
                }
            writer.write(row)
            finished.append(row)
            bar.update(1)
    finally:
        writer.close()
        bar.close()
    return finished


_Outcome = tuple[Job, bool, Any, float, int]


def _run_local(
    jobs: Sequence[Job], fn, workers: int, retries: int, _address: str | None
) -> Iterator[_Outcome]:
    """A process pool (spawned workers: numba's threads do not survive a fork)."""
    if workers == 1:
        for job in jobs:
            attempts = 0
            while True:
                attempts += 1
                ok, payload, sec = _call(fn, job.params)
                if ok or attempts > retries:
                    yield job, ok, payload, sec, attempts
                    break
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    queue: list[tuple[Job, int]] = [(job, 1) for job in jobs]
    while queue:
        # A worker that dies (segfault, OOM kill) breaks the whole pool: every job still
        # in it fails with BrokenProcessPool. Those jobs are charged an attempt and run
        # again on a fresh pool, so one crash costs a retry, not the sweep.
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context("spawn"),
            initializer=_worker_init,
            initargs=(threads, os.getpid()),
        ) as pool:
            pending: dict[Future, tuple[Job, int]] = {
                pool.submit(_call, fn, job.params): (job, att) for job, att in queue
            }
            queue = []
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    job, attempts = pending.pop(fut)
                    broken = False
                    try:
                        ok, payload, sec = fut.result()
                    except BrokenProcessPool as exc:
                        ok, payload, sec = False, f"worker process died: {exc}", math.nan
                        broken = True
                    except Exception as exc:
                        ok, payload, sec = False, f"{type(exc).__name__}: {exc}", math.nan
                    if not ok and attempts <= retries:
                        if broken:
                            queue.append((job, attempts + 1))
                        else:
                            pending[pool.submit(_call, fn, job.params)] = (job, attempts + 1)
                        continue
                    yield job, ok, payload, sec, attempts


def _run_ray(
    jobs: Sequence[Job], fn, workers: int, retries: int, address: str | None
) -> Iterator[_Outcome]:
    """Ray tasks: a local instance with ``workers`` CPUs, or the cluster at ``address``."""
    try:
        import ray
    except ImportError:
        raise AltmarlError("--backend ray needs Ray: pip install 'altmarl[ray]'") from None
    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            # one numba thread per task: Ray already runs a task per CPU
            "runtime_env": {"env_vars": {"NUMBA_NUM_THREADS": "1"}},
        }
        if address:
            kw["address"] = address
        else:
            kw["num_cpus"] = workers
        ray.init(**kw)
        started = True
    try:
        remote = ray.remote(num_cpus=1)(_call)
        fn_ref = ray.put(fn)
        pending = {remote.remote(fn_ref, job.params): (job, 1) for job in jobs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                job, attempts = pending.pop(ref)
                try:
                    ok, payload, sec = ray.get(ref)
                except Exception as exc:  # the task's worker died
                    ok, payload, sec = False, f"{type(exc).__name__}: {exc}", math.nan
                if not ok and attempts <= retries:
                    pending[remote.remote(fn_ref, job.params)] = (job, attempts + 1)
                    continue
                yield job, ok, payload, sec, attempts
    finally:
        if started:
            ray.shutdown()


def sweep_study(
    out: str | Path,
    protocol: dict[str, Any],
    jobs: Sequence[Job],
    job_fn: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    fieldnames: Sequence[str],
    on_result: Callable[[Job, dict[str, Any]], None] | None = None,
    write_figures: Callable[[Path], Any] | None = None,
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    resume: bool = False,
    progress: bool | None = None,
) -> Path:
    """A study's sweep: record (or check) its protocol in ``out``, run the jobs, then
    ``write_figures(out)``, all under ``out``'s lock. Returns ``out``."""
    out = Path(out)
    with lock_directory(out):
        record_protocol(out, protocol, resume)
        run_sweep(
            jobs,
            job_fn,
            out,
            fieldnames=fieldnames,
            backend=backend,
            workers=workers,
            ray_address=ray_address,
            resume=resume,
            progress=progress,
            on_result=on_result,
            lock=False,
        )
        if write_figures is not None:
            write_figures(out)
    return out


def unfinished_jobs(out: str | Path, jobs: Sequence[Job]) -> list[tuple[Job, str]]:
    """``(job, its last error)`` for every job of the grid without an ``ok`` record in
    ``out/results.csv`` (the error is empty for a job never run)."""
    rows = read_results(Path(out) / RESULTS_FILE)
    if not jobs:
        return []
    key_fields = list(jobs[0].key)
    done, errors = set(), {}
    for r in rows:
        key = _key_id({k: r.get(k) for k in key_fields})
        if r.get("status") == "ok":
            done.add(key)
        else:
            errors[key] = r.get("error") or ""
    return [(j, errors.get(j.key_id, "")) for j in jobs if j.key_id not in done]


def with_overrides(study: Any, **kw: Any) -> Any:
    """The study (a dataclass) with the given fields replaced; ``None`` values are ignored."""
    return replace(study, **{k: v for k, v in kw.items() if v is not None})


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
