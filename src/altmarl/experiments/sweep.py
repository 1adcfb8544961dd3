"""A sweep runner: a grid of jobs on a local process pool (default) or on Ray.

Each job is a top-level function applied to a ``params`` dict; its record is appended to
``results.csv`` the moment it finishes (flushed to disk), so an interrupted sweep loses
nothing and ``resume=True`` skips the jobs already recorded as ``ok``. A job that raises
is retried ``retries`` times and then recorded as ``failed`` with its error, without
stopping the sweep. A progress bar shows jobs done / total and the time left.

Everything a job does must follow from its ``params`` (seeds included), so the same grid
gives the same records on either backend, in any order.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from altmarl.errors import AltmarlError

RESULTS_FILE = "results.csv"
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


def _worker_init(threads: int) -> None:
    # Each process gets its share of the cores; numba would otherwise run one thread per
    # core in every worker and oversubscribe the machine. set_num_threads caps the threads
    # numba uses; NUMBA_NUM_THREADS must not change once numba has launched its pool
    # (unpickling the job may already have imported numba), so it is left alone.
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


class _Writer:
    """Appends rows to results.csv, flushing and syncing each one."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        existing = read_results(path)
        if existing and list(existing[0].keys()) != list(columns):
            raise AltmarlError(
                f"{path} has columns {list(existing[0].keys())}, not {list(columns)}; "
                "it belongs to another kind of sweep"
            )
        fresh = not path.is_file() or path.stat().st_size == 0
        self.fh = path.open("a", newline="")
        self.writer = csv.DictWriter(self.fh, fieldnames=list(columns), extrasaction="ignore")
        if fresh:
            self.writer.writeheader()
            self._sync()

    def write(self, row: dict[str, Any]) -> None:
        self.writer.writerow({k: _fmt(row[k]) for k in self.writer.fieldnames if k in row})
        self._sync()

    def _sync(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return repr(v)
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
) -> list[dict[str, Any]]:
    """Run ``fn(job.params)`` for every job; append each record to ``out_dir/results.csv``.

    fieldnames : the record's columns written to CSV (after the key columns); a record may
        carry more (e.g. arrays) for ``on_result``, which runs in this process before the
        row is written.
    workers : processes (local) or CPUs (a local Ray instance); default all cores.
    Returns the records of this call's finished jobs (ok and failed).
    """
    if backend not in BACKENDS:
        raise AltmarlError(f"--backend {backend!r} must be one of {', '.join(BACKENDS)}")
    if not jobs:
        return []
    if workers is not None and workers < 1:
        raise AltmarlError(f"--workers {workers} must be >= 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RESULTS_FILE
    key_fields = list(jobs[0].key)
    columns = [*key_fields, *fieldnames, *STATUS_FIELDS]
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
            initargs=(threads,),
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
    """A study's sweep: record (or, on ``resume``, check) its protocol in ``out``, run the
    jobs, then ``write_figures(out)``. Returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
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
    )
    if write_figures is not None:
        write_figures(out)
    return out


def with_overrides(study: Any, **kw: Any) -> Any:
    """The study (a dataclass) with the given fields replaced; ``None`` values are ignored."""
    return replace(study, **{k: v for k, v in kw.items() if v is not None})


def record_protocol(out: Path, protocol: dict[str, Any], resume: bool) -> None:
    """Write ``out/study.json`` for a new sweep; on ``resume`` refuse a different protocol
    (a resumed sweep must finish the grid it started)."""
    path = Path(out) / "study.json"
    if path.is_file() and resume:
        saved = json.loads(path.read_text())
        if saved != protocol:
            diff = [k for k in saved if saved.get(k) != protocol.get(k)]
            raise AltmarlError(
                f"--resume: {out} was started with a different protocol ({', '.join(diff)}); "
                "rerun with the original arguments"
            )
    elif not (Path(out) / RESULTS_FILE).is_file():
        path.write_text(json.dumps(protocol, indent=2) + "\n")
