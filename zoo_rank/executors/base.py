"""The executor interface: run one function over many argument tuples, yield as they finish."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol, Sequence


@dataclass(frozen=True)
class Resources:
    """What one job asks of a worker. ``gpus`` may be a fraction (0.25: four jobs share a GPU);
    ``retries``: how often a job whose worker died (crash, OOM kill, lost node) is run again.
    An exception raised by the job itself is never retried: it is the answer."""

    cpus: float = 1.0
    gpus: float = 0.0
    retries: int = 3


class Executor(Protocol):
    """Runs jobs; never touches the registry.

    ``local`` is True when jobs run in the caller's process and may be handed objects that
    cannot travel (callbacks, open connections) through ``local_kwargs``.
    """

    name: str
    local: bool

    def map(
        self,
        fn: Callable[..., Any],
        args: Sequence[tuple],
        *,
        resources: Resources = Resources(),
        local_kwargs: dict | None = None,
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index into args, fn(*args[index]))`` in completion order; a job that failed
        yields the exception it raised instead of a result."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> "Executor": ...

    def __exit__(self, *exc) -> None: ...


def unwrap(outcome: Any) -> Any:
    """A job's result, or raise the exception it failed with."""
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
