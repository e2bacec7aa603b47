"""The default executor: jobs run here, one at a time or in a few daemon threads."""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator, Sequence

from .base import Resources


class InProcessExecutor:
    """``workers=1``: each job runs in the calling thread, so Ctrl-C stops it at once.
    ``workers>1``: daemon threads, for jobs that wait on the network; unlike
    ``ThreadPoolExecutor``'s threads they do not hold the process open after Ctrl-C."""

    name = "inprocess"
    local = True

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def map(self, fn: Callable[..., Any], args: Sequence[tuple], *, resources: Resources = Resources(),
            local_kwargs: dict | None = None) -> Iterator[tuple[int, Any]]:
        kwargs = local_kwargs or {}
        if self.workers == 1 or len(args) <= 1:
            for index, item in enumerate(args):
                try:
                    result = fn(*item, **kwargs)
                except Exception as exc:  # noqa: BLE001 - handed to the caller; Ctrl-C propagates
                    result = exc
                yield index, result
            return
        yield from _in_daemon_threads(fn, args, kwargs, self.workers)

    def close(self) -> None:
        pass

    def __enter__(self) -> "InProcessExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _in_daemon_threads(fn: Callable, args: Sequence[tuple], kwargs: dict, workers: int) -> Iterator[tuple[int, Any]]:
    tasks: queue.Queue = queue.Queue()
    results: queue.Queue = queue.Queue()
    for index, item in enumerate(args):
        tasks.put((index, item))

    def worker() -> None:
        while True:
            try:
                index, item = tasks.get_nowait()
            except queue.Empty:
                return
            try:
                results.put((index, fn(*item, **kwargs)))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                results.put((index, exc))

    for _ in range(min(workers, len(args))):
        threading.Thread(target=worker, daemon=True).start()
    for _ in args:
        yield results.get()
