"""Training task embeddings in-process vs on a local Ray: wall time for the same runs.

Trains BitFit ("early", the paper's cheap embedding) on eight built-in tasks with the
default base model, once with `--executor inprocess` (one run at a time, torch using every
core) and once with `--executor ray` (a local Ray, one core per run, runs side by side),
each into an empty registry, and checks that both registered the same entries.

Run: python benchmarks/train_executors.py [--tasks 8] [--max-examples 1000] [--cpus-per-job 1]
(needs `zoo-rank fetch` once for the model and data, and zoo-rank[ray,train]).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _machine import describe

TASKS = ("hedge", "subjectivity", "tweet-sentiment", "amazon-sentiment", "nyt-sentiment", "movie-sentiment",
         "debate-party", "snli")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--max-examples", type=int, default=1000)
    parser.add_argument("--cpus-per-job", type=int, default=1)
    parser.add_argument("--method", default="bitfit")
    args = parser.parse_args()
    import ray
    import torch

    print(describe())
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), ray {ray.__version__}")
    tasks = TASKS[: args.tasks]
    names = {}
    with tempfile.TemporaryDirectory() as tmp:
        for executor in ("inprocess", "ray"):
            extra = ["--executor", "ray", "--cpus-per-job", str(args.cpus_per_job)] if executor == "ray" else []
            env = {**os.environ, "ZOO_RANK_HOME": os.path.join(tmp, executor), "ZOO_RANK_BUILTIN": "0"}
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "zoo_rank", "train", *tasks, "--split", "train",
                                   "--method", args.method, "--max-examples", str(args.max_examples), "--json",
                                   *extra], env=env, capture_output=True, text=True)
            wall = time.perf_counter() - started
            if done.returncode:
                raise SystemExit(done.stderr[-2000:])
            entries = json.loads(done.stdout)
            names[executor] = [(e["name"], e["content_sha256"]) for e in entries]
            busy = sum(e["metadata"]["training"]["seconds"] for e in entries)
            print(f"--executor {executor}: {len(entries)} {args.method} embeddings ({args.max_examples} examples "
                  f"each) in {wall:.0f} s wall; {busy:.0f} s of training summed over runs")
    same_names = [n for n, _ in names["inprocess"]] == [n for n, _ in names["ray"]]
    same_weights = names["inprocess"] == names["ray"]
    print(f"same entries: {same_names}; bit-identical weights: {same_weights} "
          f"(expected only at the same thread count: in-process used {torch.get_num_threads()}, "
          f"Ray {args.cpus_per_job} per run)")


if __name__ == "__main__":
    main()
