"""Where units of work run: in this process, in worker processes on this machine, or on a Ray cluster.

Training, pulling and embedding hand their work to an ``Executor`` as pure functions of
picklable arguments (``zoo_rank.jobs``); what comes back is written to the registry by the
calling process alone, so the registry stays single-writer whatever runs the work.

    >>> from zoo_rank.executors import get_executor
    >>> with get_executor("ray", address="auto") as executor:
    ...     zoo_rank.add(["adapters/"], executor=executor)
"""

from __future__ import annotations

import os
from functools import lru_cache

from ..plugins import installed, own
from .base import Executor, Resources, unwrap
from .inprocess import InProcessExecutor

PROCESSES_FROM = 32  # checkpoints to embed before "auto" starts worker processes (~1 s to spawn them)

__all__ = ["EXECUTORS", "Executor", "InProcessExecutor", "Resources", "executor_names", "get_executor",
           "ingest_executor", "unwrap"]


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def ingest_executor(jobs: int) -> Executor:
    """What "auto" means for reading and embedding ``jobs`` checkpoints: worker processes, one per
    core, when there are enough of them to pay for starting the workers; else this process."""
    from .processes import ProcessExecutor

    cpus = available_cpus()
    return ProcessExecutor(cpus) if jobs >= PROCESSES_FROM and cpus > 1 else InProcessExecutor()


def _processes(address: str | None, num_cpus: int | None, workers: int) -> Executor:
    from .processes import ProcessExecutor

    return ProcessExecutor(num_cpus or available_cpus())


def _ray(address: str | None, num_cpus: int | None, workers: int) -> Executor:
    from .ray_executor import RayExecutor

    return RayExecutor(address=address, num_cpus=num_cpus)


def register_executors(register) -> None:
    """zoo-rank's own executors, registered as a plugin's are (``hookspecs.register_executors``)."""
    register("inprocess", lambda address, num_cpus, workers: InProcessExecutor(workers=workers))
    register("processes", _processes)
    register("ray", _ray)


def _factory(name: str, factory: object) -> tuple[str, object]:
    if not callable(factory):
        raise ValueError("not a factory function")
    return name, factory


_OWN = own(register_executors, _factory)
EXECUTORS = ("auto", *_OWN)  # zoo-rank's own; executor_names() adds plugins


@lru_cache(maxsize=1)  # the plugins' hooks run once a process
def _factories() -> dict:
    """zoo-rank's executors and those of installed plugins (``register_executors``: a factory
    ``(address, num_cpus, workers) -> Executor``)."""
    return {**_OWN, **dict(installed("register_executors", _factory, EXECUTORS))}


def executor_names() -> tuple[str, ...]:
    """What `--executor` accepts: "auto", zoo-rank's executors and installed plugins'."""
    return ("auto", *_factories())


def get_executor(name: str = "inprocess", *, address: str | None = None, num_cpus: int | None = None,
                 workers: int = 1) -> Executor | None:
    """The executor called ``name`` (None for "auto": each command then picks by the size of its
    work); ``address`` (Ray, or a plugin's cluster): a running cluster, ``auto`` for the one this
    machine belongs to, or None to start a private local one."""
    from ..errors import ZooRankError

    if name in ("auto", "inprocess", "processes") and address:
        raise ZooRankError("--ray-address needs --executor ray")
    if name == "auto":
        return None  # the caller decides by the size of the work (``ingest_executor``)
    factories = _OWN if name in _OWN else _factories()
    if name not in factories:
        raise ZooRankError(f"unknown executor {name!r}", hint=f"choose one of: {', '.join(executor_names())}")
    return factories[name](address, num_cpus, workers)
