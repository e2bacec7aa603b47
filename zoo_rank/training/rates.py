"""Measured training speed on this machine, for honest time estimates before a run.

Each finished run stores its seconds per optimiser step under (base model, device, max
length) in ``<home>/training-rates.json``; the next run of the same kind is announced with
an estimate from that measurement. Before any run has been measured the estimate comes from
the benchmark in docs/benchmarks.md and says so.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

FILE = "training-rates.json"
BENCHMARK_SECONDS_PER_STEP = 1.3  # default model, 2 CPU cores, batch 32 x 128 tokens (docs/benchmarks.md)


def _key(base_model: str, device: str, max_length: int) -> str:
    return f"{base_model}|{device}|{max_length}"


def measured(home: Path, base_model: str, device: str, max_length: int) -> float | None:
    """Seconds per step measured here for runs like this one, or None."""
    try:
        rates = json.loads((Path(home) / FILE).read_text())
        value = rates.get(_key(base_model, device, max_length))
        return float(value) if isinstance(value, (int, float)) and value > 0 else None
    except (OSError, ValueError, AttributeError):
        return None


def record(home: Path, base_model: str, device: str, max_length: int, seconds: float, steps: int) -> None:
    """Remember a finished run's rate (a moving average); a read-only home just skips it."""
    if steps <= 0 or seconds <= 0:
        return
    path = Path(home) / FILE
    try:
        rates = json.loads(path.read_text()) if path.is_file() else {}
        if not isinstance(rates, dict):
            rates = {}
    except (OSError, ValueError):
        rates = {}
    key, rate = _key(base_model, device, max_length), seconds / steps
    old = rates.get(key)
    rates[key] = round(rate if not isinstance(old, (int, float)) else 0.5 * old + 0.5 * rate, 4)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(rates, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


def announce(examples: int, label: str, method: str, steps: int, rate: float | None, device: str,
             capped: bool = False) -> str:
    """The line said before a run: how much data, which method, and how long, from what
    (``capped``: ``steps`` is a cap the run may stop before, so the time is a most)."""
    if rate is not None:
        when = f"{'at most' if capped else 'about'} {_duration(steps * rate)} at {rate:.2f} s/step measured on this machine"
    elif device.startswith("cuda"):
        when = "no rate measured on this GPU yet"
    else:
        when = (f"{'at most' if capped else 'about'} {_duration(steps * BENCHMARK_SECONDS_PER_STEP)} if this machine is "
                f"like the 2-core benchmark "
                f"({BENCHMARK_SECONDS_PER_STEP} s/step; measured here after this run)")
    count = f"until learned, at most {steps} steps" if capped else f"{steps} steps"
    return f"training {method} on {examples:,} examples of {label} ({count}): {when}{_busy()}"


def _busy() -> str:
    """A CPU estimate assumes the cores are free; say so when they are not (another run, a build)."""
    try:
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
    except (OSError, AttributeError):
        return ""
    return f"; the machine is busy (load {load:.1f} on {cores} cores), so expect longer" if load > cores else ""


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
