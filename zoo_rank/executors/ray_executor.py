"""``--executor ray``: jobs fanned out over a Ray cluster (``pip install 'zoo-rank[ray]'``).

Without an address a private local Ray is started with this machine's cores; with one
(``auto``, or ``ray://host:10001``) the jobs run on that cluster, whose workers need
zoo-rank installed and, for training, the base model (``zoo-rank fetch``) where they run.
A job whose worker dies is resubmitted by Ray up to ``Resources.retries`` times; an
exception raised by the job itself comes back as the same exception type. Results travel
back to the caller, which alone writes the registry.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Sequence

from ..errors import DependencyError, ZooRankError
from .base import Resources


class RayExecutor:
    name = "ray"
    local = False

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise DependencyError("--executor ray needs Ray", hint="install it: pip install 'zoo-rank[ray]'") from None
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline first: no usage report
            try:
                ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = address or "a local Ray"
                raise ZooRankError(f"cannot start or join {where} ({exc})",
                                   hint="check --ray-address (`ray status` on the cluster head shows it)") from None
            self._started = True
        resources = ray.cluster_resources()
        self.cpus = int(resources.get("CPU", 1))
        self.gpus = float(resources.get("GPU", 0))

    def map(self, fn: Callable[..., Any], args: Sequence[tuple], *, resources: Resources = Resources(),
            local_kwargs: dict | None = None) -> Iterator[tuple[int, Any]]:
        ray = self._ray
        if resources.gpus and resources.gpus > self.gpus:
            raise ZooRankError(f"jobs ask for {resources.gpus:g} GPU each but the Ray cluster has {self.gpus:g}",
                               hint="lower --gpus-per-job, or train on CPU with --device cpu")
        remote = ray.remote(fn).options(num_cpus=resources.cpus, num_gpus=resources.gpus,
                                        max_retries=resources.retries, retry_exceptions=False)
        window = max(4, 2 * self.cpus)  # bounded in flight: results are held until collected
        todo = list(enumerate(args))[::-1]
        pending: dict = {}
        try:
            while todo or pending:
                while todo and len(pending) < window:
                    index, item = todo.pop()
                    pending[remote.remote(*item)] = index
                (ready,), _ = ray.wait(list(pending), num_returns=1)
                index = pending.pop(ready)
                yield index, self._outcome(ready, index, resources)
        finally:  # Ctrl-C or an abandoned iterator: stop what is still running
            for ref in pending:
                ray.cancel(ref, force=True)

    def _outcome(self, ref, index: int, resources: Resources) -> Any:
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(getattr(exc, "cause", None), Exception) else None
            return cause or ZooRankError(f"job {index} failed on a Ray worker: {exc}")
        except ray.exceptions.RayError as exc:  # the worker died more often than it may be retried
            return ZooRankError(f"job {index}: its Ray worker died on all {resources.retries + 1} attempts "
                                f"({type(exc).__name__})", hint="see the Ray logs (/tmp/ray/session_latest/logs)")

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
