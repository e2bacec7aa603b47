"""Where units of work run: in this process (default) or on a Ray cluster.

Training, pulling and embedding hand their work to an ``Executor`` as pure functions of
picklable arguments (``zoo_rank.jobs``); what comes back is written to the registry by the
calling process alone, so the registry stays single-writer whatever runs the work.

    >>> from zoo_rank.executors import get_executor
    >>> with get_executor("ray", address="auto") as executor:
    ...     zoo_rank.add(["adapters/"], executor=executor)
"""

from __future__ import annotations

from .base import Executor, Resources, unwrap
from .inprocess import InProcessExecutor

EXECUTORS = ("inprocess", "ray")

__all__ = ["EXECUTORS", "Executor", "InProcessExecutor", "Resources", "get_executor", "unwrap"]


def get_executor(name: str = "inprocess", *, address: str | None = None, num_cpus: int | None = None,
                 workers: int = 1) -> Executor:
    """The executor called ``name``; ``address`` (Ray only): a running cluster, ``auto`` for the
    one this machine belongs to, or None to start a private local one."""
    from ..errors import ZooRankError

    if name == "inprocess":
        if address:
            raise ZooRankError("--ray-address needs --executor ray")
        return InProcessExecutor(workers=workers)
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(address=address, num_cpus=num_cpus)
    raise ZooRankError(f"unknown executor {name!r}", hint=f"choose one of: {', '.join(EXECUTORS)}")
