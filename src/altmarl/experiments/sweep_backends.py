"""Where a sweep's jobs run (:mod:`altmarl.experiments.sweep`): a local process pool or Ray.

Both runners yield ``(job, ok, payload, seconds, attempts)`` as jobs finish, retrying a
failed job up to ``retries`` times; a job's error travels back as text, never as an
exception. Worker processes die with the sweep: on Linux the kernel kills them when their
parent dies (``PR_SET_PDEATHSIG``), elsewhere a watchdog thread notices that the parent is
gone.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from altmarl.errors import AltmarlError
from altmarl.experiments.sweep_files import Job

BACKENDS = ("local", "ray")


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


#: Set in a pool's worker processes to the worker's share of the cores.
WORKER_THREADS_ENV = "ALTMARL_WORKER_THREADS"


def worker_threads() -> int | None:
    """This process's share of the cores when it is a worker of :func:`run_local`'s pool
    (``None`` otherwise). Jobs that run torch pass it on: torch's default is one thread per
    core in every process, and OpenMP, once numba has started it, ignores
    ``OMP_NUM_THREADS``."""
    value = os.environ.get(WORKER_THREADS_ENV)
    return int(value) if value else None


def _worker_init(threads: int, parent: int) -> None:
    # A worker must not outlive the sweep: when the parent is killed (SIGKILL leaves no
    # chance to shut the pool down) its idle workers would wait on their queue forever.
    _die_with_parent(parent)
    os.environ[WORKER_THREADS_ENV] = str(threads)
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


Outcome = tuple[Job, bool, Any, float, int]


def run_local(
    jobs: Sequence[Job], fn, workers: int, retries: int, _address: str | None
) -> Iterator[Outcome]:
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


def run_ray(
    jobs: Sequence[Job], fn, workers: int, retries: int, address: str | None
) -> Iterator[Outcome]:
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
