"""Progress bars (rich, on stderr) for the long steps: training runs and downloads."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator


PLAIN_EVERY = 5.0  # seconds between progress lines when stderr is not a terminal


@contextmanager
def training_bars(enabled: bool = True) -> Iterator[Callable[[str, int, int, "float | None"], None]]:
    """Yield the callback ``train`` reports to: one bar per run, with steps, loss and ETA; where
    stderr is not a terminal (a log file, CI), one plain line every few seconds instead."""
    from rich.console import Console

    console = Console(stderr=True)
    if enabled and not console.is_terminal:
        yield _plain_lines()
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=not enabled) as bars:
        rows: dict[str, int] = {}

        def report(description: str, done: int, total: int, loss: float | None) -> None:
            if description not in rows:
                rows[description] = bars.add_task(description, total=total, loss="–")
            bars.update(rows[description], completed=done, total=total, loss="–" if loss is None else f"{loss:.3f}")

        yield report


def _plain_lines() -> Callable[[str, int, int, "float | None"], None]:
    """``description: step 12/63, loss 0.693, 9 s, ~38 s left`` at the start, every
    ``PLAIN_EVERY`` seconds and at the end of each run; no bar art, nothing overwritten."""
    import sys
    import time

    started: dict[str, float] = {}
    said: dict[str, float] = {}

    def report(description: str, done: int, total: int, loss: float | None) -> None:
        now = time.monotonic()
        begun = started.setdefault(description, now)
        if done and done < total and now - said.get(description, 0.0) < PLAIN_EVERY:
            return
        said[description] = now
        elapsed = now - begun
        left = f", ~{elapsed / done * (total - done):.0f} s left" if 0 < done < total else ""
        loss_text = f", loss {loss:.3f}" if loss is not None else ""
        print(f"{description}: step {done}/{total}{loss_text}, {elapsed:.0f} s{left}", file=sys.stderr, flush=True)

    return report


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
