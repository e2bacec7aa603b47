"""Seconds and peak memory of one BitFit training step, with a batch run as one forward pass or as
passes of similar length (zoo_rank.training.loop.micro_batches), on the quickstart's data.

Each setting runs in a fresh interpreter (so its peak RSS is its own): the default model with a
fresh head, BitFit, the hedge test file (623 examples), batches drawn as the training loop draws
them; the median of the timed steps after two warm-up steps.

Run: python benchmarks/step_cost.py [--batch 32,8] [--budgets 0,512] [--steps 12]
(budget 0: one pass per batch, as zoo-rank trained before #37)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _machine import child_env, describe, quickstart_data

PROBE = r'''
import json, re, statistics, sys, time
import torch
from _machine import bitfit_step_setup
from zoo_rank.training.loop import micro_batches

data_file, batch, budget, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
run = bitfit_step_setup(data_file, batch)
model, objective, encoded, targets, lengths = run.model, run.objective, run.encoded, run.targets, run.lengths
optimizer, order, pad = run.optimizer, run.order, run.pad
model.train()
times, tokens = [], []
for step in range(steps + 2):
    indices = [order[(step * batch + i) % len(order)] for i in range(batch)]
    parts = micro_batches(lengths, indices, budget) if budget else [indices]
    start = time.perf_counter()
    for part in parts:
        loss = objective.loss(model, encoded, targets, part, torch.device("cpu"), pad) * (len(part) / batch)
        loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if step >= 2:
        times.append(time.perf_counter() - start)
        tokens.append(sum(len(p) * max(lengths[i] for i in p) for p in parts))
peak = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1)) / 1024
print("STEP " + json.dumps({"seconds": statistics.median(times), "tokens": statistics.mean(tokens), "peak_mib": peak,
                            "threads": torch.get_num_threads()}))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", default="32,8")
    parser.add_argument("--budgets", default="0,512")
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as scratch:
        env = child_env(ZOO_RANK_HOME=str(Path(scratch) / "home"))
        data = quickstart_data(Path(scratch), env)
        print("| batch | passes | padded tokens a step | s/step | peak RSS MiB |")
        print("|---:|---|---:|---:|---:|")
        for batch in map(int, args.batch.split(",")):
            for budget in map(int, args.budgets.split(",")):
                done = subprocess.run([sys.executable, "-c", PROBE, str(data), str(batch), str(budget), str(args.steps)],
                                      capture_output=True, text=True, env=env, check=False)
                line = next((x for x in done.stdout.splitlines() if x.startswith("STEP ")), None)
                if done.returncode != 0 or line is None:
                    sys.exit(f"the probe failed: {done.stderr[-3000:]}")
                step = json.loads(line[5:])
                passes = "one a batch" if not budget else f"≤ {budget} tokens each"
                print(f"| {batch} | {passes} | {step['tokens']:.0f} | {step['seconds']:.3f} | {step['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
