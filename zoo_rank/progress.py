"""Progress bars (rich, on stderr) for the long steps: training runs and downloads."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def training_bars(enabled: bool = True) -> Iterator[Callable[[str, int, int, "float | None"], None]]:
    """Yield the callback ``train`` reports to: one bar per run, with steps, loss and ETA."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), disable=not enabled) as bars:
        rows: dict[str, int] = {}

        def report(description: str, done: int, total: int, loss: float | None) -> None:
            if description not in rows:
                rows[description] = bars.add_task(description, total=total, loss="–")
            bars.update(rows[description], completed=done, total=total, loss="–" if loss is None else f"{loss:.3f}")

        yield report


@contextmanager
def spinner(message: str, enabled: bool = True) -> Iterator[None]:
    from rich.console import Console

    if not enabled:
        yield
        return
    with Console(stderr=True).status(message):
        yield


@contextmanager
def download_bar(description: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """One bar for all files of all repos being fetched: bytes done of bytes known, speed, ETA."""
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=not (enabled and console.is_terminal)) as bars:
        row = bars.add_task(description, total=None)

        def report(done: int, total: int) -> None:
            bars.update(row, completed=done, total=total or None)

        yield report
