"""How long the early rule by progress (`--until-learned`) takes on every built-in task and method.

    python scripts/studies/early_rule.py [--fraction 0.1] [--cap 400] [--out results/work/early-rule.jsonl]

Trains each built-in task (its train split, the shipped runs' settings: 1,000 examples, seed
0, batch 32, max length 128) with BitFit, LoRA and prefix tuning until the smoothed training
loss is FRACTION below chance, at most CAP steps, and appends one JSON line per run (resumable:
runs already in --out are skipped). Prints, per run, the steps taken, whether it learned or hit
the cap, the smoothed loss against chance and the seconds. This measures what rebuilding the
shipped registry with the rule would cost and give; it chooses nothing by itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from jsonl import append_run, done_runs

from zoo_rank.datasets import TASKS, load_data
from zoo_rank.training import TrainConfig, train_checkpoint
from zoo_rank.training.config import METHOD_NAMES
from zoo_rank.training.models import resolve_base_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--cap", type=int, default=400)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--methods", default=",".join(METHOD_NAMES))
    parser.add_argument("--out", default="results/work/early-rule.jsonl")
    args = parser.parse_args()
    out, done = done_runs(args.out, "task", "method", "fraction", "cap")
    base = resolve_base_model()
    for task in args.tasks.split(","):
        dataset = load_data(task, split="train")
        for method in args.methods.split(","):
            if (task, method, args.fraction, args.cap) in done:
                continue
            config = TrainConfig(method=method, until_learned=args.fraction, steps=args.cap, device="cpu")
            scratch = Path(tempfile.mkdtemp(prefix="early-rule-"))
            started = time.perf_counter()
            try:
                result = train_checkpoint(dataset, scratch / "checkpoint", config, base)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            row = {"task": task, "method": method, "fraction": args.fraction, "cap": args.cap, "steps": result.steps,
                   "seconds": round(time.perf_counter() - started, 1), **result.metrics}
            append_run(out, row)
            print(f"{task} {method}: {row['steps']} steps ({row['stopped_by']}), smoothed loss "
                  f"{row['smoothed_loss']:.3f} vs chance {row['chance_loss']:.3f}, {row['seconds']} s", file=sys.stderr)
    print("task | method | steps | stopped by | smoothed loss | chance | below chance | seconds")
    for row in map(json.loads, out.open()):
        if row["fraction"] == args.fraction and row["cap"] == args.cap:
            print(f"{row['task']} | {row['method']} | {row['steps']} | {row['stopped_by']} | {row['smoothed_loss']:.3f} | "
                  f"{row['chance_loss']:.3f} | {1 - row['smoothed_loss'] / row['chance_loss']:+.0%} | {row['seconds']}")


if __name__ == "__main__":
    main()
