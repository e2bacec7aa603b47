"""The quickstart's main job against #37's goals: `zoo-rank --target my-data.csv` on the hedge test
file (623 examples), run as a user runs it (a fresh interpreter, a fresh registry), under
`/usr/bin/time -v`.

Per run it prints the training seconds and steps the command itself reports ("learned after N
steps ... in X s (Y s CPU)"), the command's wall and CPU seconds, its peak RSS, and which source
it ranks first. Goals (an idle 2-core machine): training <= 15 s, wall <= 25 s, peak RSS <= 1 GiB,
hedge first. Run it on an idle machine: a neighbour inflates every wall-time figure.

Run: python benchmarks/quickstart.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _machine import child_env, describe, quickstart_data

GOALS = {"training_s": 15.0, "wall_s": 25.0, "peak_mib": 1024.0}


def one_run(data: Path, home: Path) -> dict:
    env = child_env(ZOO_RANK_HOME=str(home))
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "zoo_rank", "--target", str(data), "--json"],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"zoo-rank --target failed:\n{done.stderr[-3000:]}")
    trained = re.search(r"after (\d+) steps .* in (\d+) s \((\d+) s CPU\)", done.stderr)
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", done.stderr).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", done.stderr).group(1))
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    hours, minutes, seconds = clock.groups()
    return {"steps": int(trained.group(1)), "training_s": float(trained.group(2)),
            "training_cpu_s": float(trained.group(3)),
            "wall_s": int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds), "cpu_s": user + system,
            "peak_mib": peak_kib / 1024, "first": json.loads(done.stdout)[0]["task"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(describe())
    import torch
    import transformers

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers {transformers.__version__}")
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        data = quickstart_data(Path(scratch), child_env(ZOO_RANK_HOME=str(Path(scratch) / "export")))
        for i in range(args.runs):
            run = one_run(data, Path(scratch) / f"home{i}")
            runs.append(run)
            print(f"run {i + 1}: {run['steps']} steps, training {run['training_s']:.0f} s ({run['training_cpu_s']:.0f} s "
                  f"CPU); the command {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU, peak RSS "
                  f"{run['peak_mib']:.0f} MiB; first: {run['first']}")
    for key, goal in GOALS.items():
        values = [r[key] for r in runs]
        verdict = "met" if statistics.median(values) <= goal else "NOT met"
        print(f"{key}: median {statistics.median(values):.1f} (min {min(values):.1f}, max {max(values):.1f}); "
              f"goal <= {goal:g}: {verdict}")
    print(f"hedge first in {sum(r['first'] == 'hedge' for r in runs)} of {len(runs)} runs")


if __name__ == "__main__":
    main()
