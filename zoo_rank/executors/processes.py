"""Worker processes on this machine: reading and embedding many checkpoints on every core.

Embedding is numpy work under the GIL, so threads do not help; processes do, provided each
runs one BLAS thread (two processes that each start a BLAS thread per core thrash two cores:
measured 50 adapters/s instead of 110). Workers are spawned, not forked (a fork after torch
or a BLAS pool has started threads can deadlock), with the BLAS thread counts pinned in
their environment before numpy loads. Only the calling process writes the registry.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from .base import Resources

_ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")


@contextmanager
def _pinned_environment() -> Iterator[None]:
    """One BLAS thread in every process started meanwhile (spawned children copy the environment)."""
    saved = {name: os.environ.get(name) for name in _ONE_THREAD}
    os.environ.update(dict.fromkeys(_ONE_THREAD, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _die_with_parent(parent: int) -> None:
    """A worker's initializer: it must not outlive the process that started it. A parent killed with
    SIGKILL (or SIGTERM before it could shut the pool down) otherwise leaves its workers blocked on the
    job queue for good, holding the parent's stdout: `zoo-rank add DIR | cat` never returned."""
    import signal
    import threading
    import time

    try:  # Linux: the kernel sends SIGKILL the moment the parent dies
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:  # everywhere else, and for a parent that died before prctl: ask every second
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, daemon=True, name="zoo-rank-parent-watch").start()


def _broken(error: BrokenProcessPool):
    """The one-line error for worker processes that died. The usual cause from the Python API is a
    script that starts them at import: spawned workers import the caller's main module again."""
    from ..errors import ZooRankError

    return ZooRankError(f"the worker processes stopped before finishing ({error})",
                        hint="in a script, call zoo-rank under `if __name__ == \"__main__\":` (workers are "
                             "spawned and import your script again), or pass executor=get_executor(\"inprocess\")")


class ProcessExecutor:
    """``workers`` spawned processes; results are yielded as they finish, with their index."""

    name = "processes"
    local = False

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)

    def map(self, fn: Callable[..., Any], args: Sequence[tuple], *, resources: Resources = Resources(),
            local_kwargs: dict | None = None) -> Iterator[tuple[int, Any]]:
        import multiprocessing

        with _pinned_environment():
            pool = ProcessPoolExecutor(min(self.workers, max(1, len(args))),
                                       mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_die_with_parent, initargs=(os.getpid(),))
            finished = False
            try:
                # at most two jobs queued per worker: a Ctrl-C cancels the rest without waiting for them
                pending: dict[Future, int] = {}
                upcoming = iter(enumerate(args))
                for index, item in upcoming:
                    pending[pool.submit(fn, *item)] = index
                    if len(pending) >= 2 * self.workers:
                        break
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        index = pending.pop(future)
                        error = future.exception()
                        if isinstance(error, BrokenProcessPool):  # no worker runs at all: not this job's fault
                            raise _broken(error) from None
                        yield index, error if error is not None else future.result()
                        following = next(upcoming, None)
                        if following is not None:
                            pending[pool.submit(fn, *following[1])] = following[0]
                finished = True
            finally:
                processes = list((getattr(pool, "_processes", None) or {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                if not finished:  # Ctrl-C, SIGTERM, an error: a job mid-way is not waited for
                    for process in processes:
                        process.terminate()

    def close(self) -> None:
        pass

    def __enter__(self) -> "ProcessExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
