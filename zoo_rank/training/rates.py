"""Measured training speed on this machine, for honest time estimates before a run.

Each finished run stores its seconds per optimiser step under (base model, device, max
length, batch size) in ``<home>/training-rates.json``; the next run of the same kind is announced with
an estimate from that measurement. Before any run has been measured the estimate comes from
the benchmark in docs/benchmarks.md and says so.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .config import BATCH_SIZE, DEFAULT_UNTIL_LEARNED

FILE = "training-rates.json"
# the default model on 2 CPU cores, per example of a batch: 1.3 s a step of 32 × 128 tokens, measured
# before batches ran as passes of similar length (0.56 s a step of hedge's short texts since: an
# estimate before anything is measured here errs long; docs/benchmarks.md)
BENCHMARK_SECONDS_PER_EXAMPLE = 0.04


def benchmark_rate(batch_size: int) -> float:
    """Seconds per step of the 2-core benchmark at ``batch_size``: what an estimate says before
    anything was measured here."""
    return round(BENCHMARK_SECONDS_PER_EXAMPLE * batch_size, 2)


def _key(base_model: str, device: str, max_length: int, batch_size: int) -> str:
    return f"{base_model}|{device}|{max_length}|{batch_size}"


def measured(home: Path, base_model: str, device: str, max_length: int, batch_size: int) -> float | None:
    """Seconds per step measured here for runs like this one, or None."""
    try:
        rates = json.loads((Path(home) / FILE).read_text())
        value = rates.get(_key(base_model, device, max_length, batch_size))
        return float(value) if isinstance(value, (int, float)) and value > 0 else None
    except (OSError, ValueError, AttributeError):
        return None


def record(home: Path, base_model: str, device: str, max_length: int, batch_size: int, seconds: float,
           steps: int) -> None:
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
    key, rate = _key(base_model, device, max_length, batch_size), seconds / steps
    old = rates.get(key)
    rates[key] = round(rate if not isinstance(old, (int, float)) else 0.5 * old + 0.5 * rate, 4)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(rates, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


def typical_steps(entries, method: str, batch_size: int | None = None) -> list[int]:
    """Steps that earlier runs of ``method`` (at ``batch_size``, when given) ended by the early rule
    took (the shipped built-in runs and this machine's own), from their registered metadata: what a
    new run will most likely take, where the rule's cap is only what it may take."""
    from ..families import family_of

    steps = []
    for entry in entries:
        training = entry.metadata.get("training") or {}
        batch = (training.get("config") or {}).get("batch_size")
        if family_of(entry.method) == method and (training.get("metrics") or {}).get("stopped_by") and \
                isinstance(training.get("steps"), int) and (batch_size is None or batch == batch_size):
            steps.append(training["steps"])
    return sorted(steps)


def expected_steps(typical: list[int], cap: int) -> int:
    """The median of ``typical`` (``typical_steps``), or the cap when nothing has been measured."""
    return min(cap, typical[len(typical) // 2]) if typical else cap


def announce(examples: int, label: str, method: str, steps: int, rate: float | None, device: str,
             capped: bool = False, typical: list[int] = (), batch_size: int = BATCH_SIZE, rows: float = 1.0) -> str:
    """The line said before a run: how much data, which method, and how long, from what
    (``capped``: ``steps`` is a cap the run may stop before; ``typical``: the steps earlier runs
    of the method ended by the rule took, so the time said is the likely one, and the cap a most;
    ``rows``: forward rows an example, its number of choices for multiple choice, which rates,
    kept per row, are multiplied by)."""
    likely = expected_steps(list(typical), steps) if capped else steps
    typical = typical if likely < steps else []  # a cap below the typical length: the cap is what it will take
    seconds_per_step = (rate if rate is not None else benchmark_rate(batch_size)) * rows
    if rate is None and device.startswith("cuda"):
        when = "no rate measured on this GPU yet"
    else:
        source = (f"at {rate:.2f} s/step measured on this machine" if rate is not None else
                  f"if this machine is like the 2-core benchmark ({benchmark_rate(batch_size):g} s/step; measured "
                  "here after this run)")
        if rows != 1:
            source += f", {rows:.3g} rows an example (its choices)"
        if capped and typical:
            when = (f"likely about {_duration(likely * seconds_per_step)}, "
                    f"at most {_duration(steps * seconds_per_step)} {source}")
        else:
            when = f"{'at most' if capped else 'about'} {_duration(steps * seconds_per_step)} {source}"
    if capped and typical:
        count = (f"until learned: typically {likely} steps ({typical[0]}-{typical[-1]} in {len(typical)} earlier "
                 f"run{'s' if len(typical) != 1 else ''}), at most {steps}")
    else:
        count = f"until learned, at most {steps} steps" if capped else f"{steps} steps"
    return f"training {method} on {examples:,} examples of {label} ({count}): {when}{_busy()}"


def shown_total(done: int, expected: int, cap: int) -> int:
    """The length a progress bar shows for a run ended by the early rule: the expected steps while
    the run is short of them, then a little more than it has done (never past the cap), so that
    its ETA is the likely time left, not the cap's."""
    return min(cap, max(expected, done + max(4, done // 5)))


def finished(label: str, method: str, result) -> tuple[str, bool]:
    """The line said after a run, how it ended and what it cost, and whether it learned (a run that
    did not is said as a warning: its embedding describes the starting point more than the task)."""
    line, learned = _outcome(label, method, result)
    unplaced = (result.metrics or {}).get("answers_in_no_window")
    if unplaced:  # part of the task was trained as another one (no answer): said whatever the outcome
        line += (f"; {unplaced} of {result.train_examples} answers fit in no --max-length window and trained as "
                 f"unanswerable (a longer --max-length keeps them)")
    return line, learned


def _outcome(label: str, method: str, result) -> tuple[str, bool]:
    metrics = result.metrics or {}
    chance = metrics.get("chance_loss")
    loss = metrics.get("smoothed_loss", metrics.get("train_loss"))
    numbers = f"loss {loss:.3f}, chance {chance:.3f}" if loss is not None and chance is not None else (
        f"loss {loss:.3f}" if loss is not None else "")
    cpu = getattr(result, "cpu_seconds", None)
    how = f"{result.steps} steps ({numbers}) in {result.seconds:.0f} s" + (f" ({cpu:.0f} s CPU)" if cpu is not None else "")
    meaning = ("so its embedding describes the starting point more than the task (more examples, a longer "
               "--max-length or another --lr may help)")
    if metrics.get("stopped_by") == "learned":
        return f"{label}: {method} learned after {how}", True
    # the run's own --until-learned fraction; a fixed-length run is judged by the early rule's default
    margin = (result.config or {}).get("until_learned") or DEFAULT_UNTIL_LEARNED
    if metrics.get("stopped_by") == "no progress":
        patience = (result.config or {}).get("patience")
        return (f"{label}: {method} did not learn: its loss stopped improving (no progress in {patience} steps) "
                f"before it fell {margin:.0%} below chance, {how}, {meaning}"), False
    if metrics.get("stopped_by") == "cap":
        return f"{label}: {method} did not learn: its loss never fell {margin:.0%} below chance before the " \
               f"cap, {how}, {meaning}", False
    if chance is not None and loss is not None and loss > chance * (1 - margin):
        return (f"{label}: {method} did not learn: its training loss stayed within {margin:.0%} of chance "
                f"after {how}, {meaning}"), False
    return f"{label}: {method} trained {how}", True


def _busy() -> str:
    """A CPU estimate assumes the cores are free; say so when they are not (another run, a build)."""
    try:
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
    except (OSError, AttributeError):
        return ""
    return f"; the machine is busy (load {load:.1f} on {cores} cores), so expect longer" if load > cores else ""


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
