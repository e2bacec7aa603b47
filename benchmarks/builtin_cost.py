"""What each built-in embedding cost when `zoo-rank builtin build` trained it: wall and CPU
seconds, steps, how the run ended, per task and method, read from the build's registry (no
training here). Run it after a build, on the build home's registry:

    python benchmarks/builtin_cost.py results/work/build-home/builtin-build [--tasks copa,squad,...]

The seconds are the runs' own records (this machine, whatever else ran beside the build: CPU
seconds are this process's, wall seconds include waiting for a shared core).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from _machine import describe

from zoo_rank.registry import Registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path, help="the build home (its registry.db)")
    parser.add_argument("--tasks", default=None, help="comma-separated tasks [default: every trained entry]")
    args = parser.parse_args()
    print(describe())
    registry = Registry(args.home, builtin=False)
    wanted = set(args.tasks.split(",")) if args.tasks else None
    rows = []
    for entry in registry.entries():
        training = entry.metadata.get("training") or {}
        if not training or (wanted and entry.task not in wanted):
            continue
        metrics = training.get("metrics") or {}
        rows.append((entry.task, entry.method, entry.task_type or "", training.get("seconds"),
                     training.get("cpu_seconds"), training.get("steps"), metrics.get("stopped_by", "fixed length"),
                     training.get("device")))
    registry.close()
    print("\n| task | method | type | wall s | CPU s | steps | ended by | device |\n|---|---|---|---:|---:|---:|---|---|")
    for task, method, kind, wall, cpu, steps, ended, device in sorted(rows):
        print(f"| {task} | {method} | {kind} | {wall or 0:.0f} | {'-' if cpu is None else f'{cpu:.0f}'} | {steps} | "
              f"{ended} | {device} |")
    by_type: dict[str, list[tuple]] = {}
    for _, _, kind, wall, cpu, _, ended, _ in rows:
        by_type.setdefault(kind, []).append((wall or 0.0, cpu, ended))
    # CPU seconds are the comparable figure: wall seconds grow with whatever shared the cores
    print("\n| type | runs | at the cap | median wall s | runs with CPU | median CPU s | their CPU min |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    for kind, runs in sorted(by_type.items()):
        cpus = [cpu for _, cpu, _ in runs if cpu is not None]
        median_cpu = f"{statistics.median(cpus):.0f}" if cpus else "-"
        print(f"| {kind} | {len(runs)} | {sum(ended == 'cap' for *_, ended in runs)} | "
              f"{statistics.median(w for w, _, _ in runs):.0f} | {len(cpus)} | {median_cpu} | {sum(cpus) / 60:.1f} |")


if __name__ == "__main__":
    main()
