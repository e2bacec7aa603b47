"""What #37's 15 s of training can buy on this machine: how close a training step already is to
the CPU's matrix-multiply speed, and how long the early rule runs on the quickstart's data when
the batch or the learning rate changes.

Part 1, the floor (one fresh interpreter): BitFit steps on the quickstart's data (hedge test
split, 623 examples, batch 32, drawn as the training loop draws them, passes of <= 512 padded
tokens), timed; then the same steps' matrix products alone (every linear layer's forward product
and its backward input-gradient product, the attention's batched products forward and back), on
random tensors of the passes' own shapes, timed the same way. Their ratio is how much of a step
any implementation of this recipe on these kernels could still save. Medians over the timed steps.

Part 2, the rule's length (one fresh interpreter per setting): `train_checkpoint` on the same
file with the default recipe (BitFit, early rule at 10%) at each batch size, learning rate and
dropout rate given (the model's own, 0.1, unless given), one run each: steps, example passes (steps x batch), training seconds and CPU seconds.
Recipe changes, measured, not shipped: docs/method.md says how a recipe is chosen.

Run on an idle machine: python benchmarks/quickstart_budget.py [--steps 8] [--settings 32:4e-4,16:1e-3,32:4e-4:0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _machine import child_env, describe, quickstart_data

GOAL_TRAINING_S = 15.0

FLOOR = r'''
import json, statistics, sys, time
import torch
from _machine import bitfit_step_setup
from zoo_rank.training.config import BATCH_SIZE
from zoo_rank.training.loop import MICRO_BATCH_TOKENS, micro_batches

data_file, steps = sys.argv[1], int(sys.argv[2])
run = bitfit_step_setup(data_file, BATCH_SIZE)
model, objective, encoded, targets, lengths = run.model, run.objective, run.encoded, run.targets, run.lengths
optimizer, order, pad = run.optimizer, run.order, run.pad
batch, budget = BATCH_SIZE, MICRO_BATCH_TOKENS["cpu"]
hidden, inner = model.config.hidden_size, model.config.intermediate_size
layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
plans = [micro_batches(lengths, [order[(s * batch + i) % len(order)] for i in range(batch)], budget)
         for s in range(steps + 2)]
model.train()
def step(parts):
    for part in parts:
        loss = objective.loss(model, encoded, targets, part, torch.device("cpu"), pad) * (len(part) / batch)
        loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
step_s = []
for s, parts in enumerate(plans):
    start = time.perf_counter()
    step(parts)
    if s >= 2:
        step_s.append(time.perf_counter() - start)
from torch.profiler import ProfilerActivity, profile
with profile(activities=[ProfilerActivity.CPU]) as profiled:  # where the rest of a step goes, by operator
    for parts in plans[2:4]:
        step(parts)
ops = sorted(profiled.key_averages(), key=lambda e: -e.self_cpu_time_total)
total = sum(e.self_cpu_time_total for e in ops)
shares = [[e.key, e.self_cpu_time_total / total] for e in ops[:8]]

linear = [(hidden, hidden)] * 4 + [(hidden, inner), (inner, hidden)]  # q, k, v, attention output; the MLP's two
weights = {shape: torch.randn(*shape) for shape in set(linear)}
bias = {shape: torch.randn(shape[1]) for shape in set(linear)}
def operands(parts):
    """Random tensors of one step's shapes, made before the clock starts (drawing them costs more
    than some products)."""
    made = []
    for part in parts:
        n, width = len(part), max(lengths[i] for i in part)
        tokens, d = n * width, hidden // heads
        for _ in range(layers):
            made.append(([(torch.randn(tokens, shape[0]), torch.randn(tokens, shape[1]), shape) for shape in linear],
                         [torch.randn(n * heads, width, d) for _ in range(3)]))
    return made
def products(made):
    """Every matrix product of one step, forward and backward (input gradients only: BitFit's
    weights take none); returns their FLOPs."""
    flops = 0
    for layer, (q, k, v) in made:
        for x, grad, shape in layer:
            torch.addmm(bias[shape], x, weights[shape])
            torch.mm(grad, weights[shape].t())
            flops += 2 * 2 * x.shape[0] * shape[0] * shape[1]
        scores = torch.bmm(q, k.transpose(1, 2))
        torch.bmm(scores, v)
        for _ in range(4):  # backward: two products for each of the two forward ones
            torch.bmm(scores, v)
        flops += 6 * 2 * q.shape[0] * q.shape[1] * q.shape[1] * q.shape[2]
    return flops
with torch.no_grad():
    products(operands(plans[0])); products(operands(plans[1]))
    floor_s, flops = [], []
    for parts in plans[2:]:
        made = operands(parts)
        start = time.perf_counter()
        flops.append(products(made))
        floor_s.append(time.perf_counter() - start)
print("FLOOR " + json.dumps({"step_s": statistics.median(step_s), "floor_s": statistics.median(floor_s),
                             "gflop": statistics.median(flops) / 1e9, "threads": torch.get_num_threads(), "ops": shares,
                             "examples": len(targets), "torch": torch.__version__,
                             "capability": torch.backends.cpu.get_cpu_capability()}))
'''

LENGTH = r'''
import json, sys, tempfile
from zoo_rank.datasets import read_table
from zoo_rank.training import TrainConfig, resolve_base_model, train_checkpoint

data_file, batch, lr, dropout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
data = read_table(data_file)
config = TrainConfig(method="bitfit", batch_size=batch, lr=lr, dropout=None if dropout == "model" else float(dropout))
with tempfile.TemporaryDirectory() as scratch:
    result = train_checkpoint(data, f"{scratch}/run", config, resolve_base_model(None))
print("LENGTH " + json.dumps({"steps": result.steps, "seconds": result.seconds, "cpu_seconds": result.cpu_seconds,
                              "stopped_by": result.metrics.get("stopped_by")}))
'''


def child(script: str, args: list[str], env: dict[str, str], tag: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith(tag + " ")), None)
    if done.returncode != 0 or line is None:
        sys.exit(f"the {tag.lower()} probe failed: {done.stderr[-3000:]}")
    return json.loads(line[len(tag) + 1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="timed steps of part 1")
    parser.add_argument("--settings", default="32:4e-4,32:1e-3,16:1e-3,16:2e-3,32:4e-4:0",
                        help="part 2's runs, BATCH:LR[:DROPOUT] each (dropout: the model's own unless given); "
                             "empty: part 1 only")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as scratch:
        env = child_env(ZOO_RANK_HOME=str(Path(scratch) / "home"))
        data = quickstart_data(Path(scratch), env)
        floor = child(FLOOR, [str(data), str(args.steps)], env, "FLOOR")
        print(f"torch {floor['torch']} ({floor['threads']} threads, CPU capability {floor['capability']})")
        share = floor["floor_s"] / floor["step_s"]
        print(f"a BitFit step (batch 32, the quickstart's data): {floor['step_s']:.3f} s; its matrix products alone "
              f"({floor['gflop']:.1f} GFLOP): {floor['floor_s']:.3f} s = {floor['gflop'] / floor['floor_s']:.0f} GFLOP/s, "
              f"{share:.0%} of the step")
        print("operators by share of a step's CPU time (torch.profiler, two steps): "
              + ", ".join(f"{name} {share:.0%}" for name, share in floor["ops"]))
        steps_in_goal = GOAL_TRAINING_S / floor["floor_s"]
        print(f"{GOAL_TRAINING_S:.0f} s of training is {GOAL_TRAINING_S / floor['step_s']:.0f} such steps today, "
              f"at most {steps_in_goal:.0f} with nothing but the products "
              f"({steps_in_goal * 32:.0f} example passes, {steps_in_goal * 32 / floor['examples']:.1f} epochs "
              f"of the {floor['examples']} examples)")
        if not args.settings:
            return
        print("\n| batch | learning rate | dropout | steps | example passes | ended by | training s | CPU s |")
        print("|---:|---:|---|---:|---:|---|---:|---:|")
        for setting in args.settings.split(","):
            batch, lr, dropout = (setting.split(":") + ["model"])[:3]
            run = child(LENGTH, [str(data), batch, lr, dropout], env, "LENGTH")
            print(f"| {batch} | {float(lr):g} | {dropout} | {run['steps']} | {run['steps'] * int(batch)} | {run['stopped_by']} "
                  f"| {run['seconds']:.1f} | {run['cpu_seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
