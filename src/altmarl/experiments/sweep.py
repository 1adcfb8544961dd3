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

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from altmarl.errors import AltmarlError
from altmarl.experiments.sweep_backends import BACKENDS
from altmarl.experiments.sweep_backends import run_local as _run_local
from altmarl.experiments.sweep_backends import run_ray as _run_ray
from altmarl.experiments.sweep_files import (
    PROTOCOL_FILE,
    RESULTS_FILE,
    STATUS_FIELDS,
    TORN_FILE,
    Job,
    ResultsWriter,
    check_results,
    job_key_id,
    read_results,
    record_protocol,
    repair_tail,
    unfinished_jobs,
)
from altmarl.storage import lock_directory

__all__ = [
    "BACKENDS",
    "PROTOCOL_FILE",
    "RESULTS_FILE",
    "STATUS_FIELDS",
    "TORN_FILE",
    "Job",
    "check_results",
    "read_results",
    "record_protocol",
    "repair_tail",
    "run_sweep",
    "sweep_study",
    "unfinished_jobs",
    "with_overrides",
]


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
    columns = [*jobs[0].key, *fieldnames, *STATUS_FIELDS]
    todo = _jobs_to_run(jobs, out, resume)
    workers = workers or os.cpu_count() or 1
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(
        total=len(jobs), initial=len(jobs) - len(todo), disable=not show, unit="job", desc="sweep"
    )
    writer = ResultsWriter(path, columns)
    finished: list[dict[str, Any]] = []
    try:
        run = _run_local if backend == "local" else _run_ray
        for job, ok, payload, seconds, attempts in run(todo, fn, workers, retries, ray_address):
            row = _row(job, ok, payload, seconds, attempts, on_result)
            writer.write(row)
            finished.append(row)
            bar.update(1)
    finally:
        writer.close()
        bar.close()
    return finished


def _jobs_to_run(jobs: Sequence[Job], out: Path, resume: bool) -> list[Job]:
    """The jobs without an ``ok`` row in ``out/results.csv``; a torn last row is repaired
    first (resume), and a sweep found there without ``resume`` is refused."""
    path = out / RESULTS_FILE
    key_fields = list(jobs[0].key)
    if resume:
        repair_tail(path)  # before reading: a torn row may look finished
    check_results(path)
    rows = read_results(path)
    if rows and not resume:
        raise AltmarlError(
            f"--out {out} already holds {RESULTS_FILE}; pass --resume to continue that sweep "
            "or choose another directory"
        )
    done = {job_key_id({k: r[k] for k in key_fields}) for r in rows if r.get("status") == "ok"}
    return [j for j in jobs if j.key_id not in done]


def _row(
    job: Job,
    ok: bool,
    payload: Any,
    seconds: float,
    attempts: int,
    on_result: Callable[[Job, dict[str, Any]], None] | None,
) -> dict[str, Any]:
    """The ``results.csv`` row of a finished job: its record (after ``on_result``) or its
    error."""
    if ok:
        record = dict(payload)
        if on_result is not None:
            on_result(job, record)
        return {
            **job.key,
            **record,
            "status": "ok",
            "attempts": attempts,
            "error": "",
            "job_seconds": seconds,
        }
    return {
        **job.key,
        "status": "failed",
        "attempts": attempts,
        "error": payload,
        "job_seconds": seconds,
    }


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


def with_overrides(study: Any, **kw: Any) -> Any:
    """The study (a dataclass) with the given fields replaced; ``None`` values are ignored."""
    return replace(study, **{k: v for k, v in kw.items() if v is not None})
