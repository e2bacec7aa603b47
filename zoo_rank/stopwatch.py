"""Wall and CPU time of one piece of work. Wall time alone says more about the neighbours than
about the work (a second job on two cores slows each 3-5x); CPU time (this process's, all its
threads) is what the work itself cost, and the two together say whether it waited."""

from __future__ import annotations

import time


class Stopwatch:
    """Started when made; ``wall()`` and ``cpu()`` are the seconds since, rounded to 10 ms."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()

    def wall(self) -> float:
        return round(time.perf_counter() - self.started, 2)

    def cpu(self) -> float:
        return round(time.process_time() - self.cpu_started, 2)
