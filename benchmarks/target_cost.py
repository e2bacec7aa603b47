"""Where the seconds and the bytes of one target embedding go (#37's cost model).

The main job, `zoo-rank --target my-data.csv` on the quickstart's file (the 623-example hedge
test split), runs once in a fresh interpreter with a fresh registry, instrumented by wrapping
zoo-rank's own functions (no change to the code measured):

- imports: the CLI, then torch and transformers (what the first training run pays);
- data: reading and checking every row of the file, and hashing its examples;
- model: loading the base model with a fresh head;
- tokenising the training sample;
- per training step: forward (with the loss), backward, the optimiser step, and the rest of the
  step (batching, the schedule, the early rule, progress);
- after training: saving, embedding and registering the checkpoint, and ranking.

Each phase is given in wall and CPU seconds (this process, all threads) and the peak RSS
(VmHWM) reached by its end. Run on an idle machine: a neighbour inflates wall time only.

Run: python benchmarks/target_cost.py [--threads N]
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
import json, re, sys, time
clock = {"wall": time.perf_counter(), "cpu": time.process_time()}
phases, order = {}, []

def peak():
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1)) / 1024

def add(name, wall, cpu):
    if name not in phases:
        phases[name] = {"wall": 0.0, "cpu": 0.0, "calls": 0}
        order.append(name)
    phases[name]["wall"] += wall
    phases[name]["cpu"] += cpu
    phases[name]["calls"] += 1
    phases[name]["peak_mib"] = peak()

def timed(name, function):
    def wrapper(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            add(name, time.perf_counter() - wall, time.process_time() - cpu)
    return wrapper

def lap(name):
    now = {"wall": time.perf_counter(), "cpu": time.process_time()}
    add(name, now["wall"] - clock["wall"], now["cpu"] - clock["cpu"])
    clock.update(now)

import zoo_rank.cli
lap("import the CLI")
import torch, transformers
if len(sys.argv) > 3 and sys.argv[3] != "0":
    torch.set_num_threads(int(sys.argv[3]))
lap("import torch, transformers")

import zoo_rank.training.loop as loop
import zoo_rank.datasets as datasets
import zoo_rank.datasets.files as files
from zoo_rank.training.objectives import Classification  # the quickstart's task type
load = Classification.load
def load_and_wrap(*args, **kwargs):
    tokenizer, model = timed("model: load with a fresh head", load)(*args, **kwargs)
    model.forward = timed("step: forward and loss", model.forward)
    return tokenizer, model
Classification.load = load_and_wrap
Classification.encode = timed("tokenise the sample", Classification.encode)
datasets.scan_table = timed("data: read and check every row", datasets.scan_table)
files.DataFile.content_hashes = timed("data: hash the examples", files.DataFile.content_hashes)
torch.Tensor.backward = timed("step: backward", torch.Tensor.backward)
torch.optim.AdamW.step = timed("step: optimiser", torch.optim.AdamW.step)
train_epochs = loop.run_epochs
def run_epochs(*args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    inner = {k: dict(phases.get(k, {"wall": 0.0, "cpu": 0.0}))
             for k in ("step: forward and loss", "step: backward", "step: optimiser")}
    yield from train_epochs(*args, **kwargs)
    spent = {k: (phases[k]["wall"] - inner[k]["wall"], phases[k]["cpu"] - inner[k]["cpu"]) for k in inner}
    add("step: the rest (batches, schedule, rule, progress)",
        time.perf_counter() - wall - sum(w for w, _ in spent.values()),
        time.process_time() - cpu - sum(c for _, c in spent.values()))
loop.run_epochs = run_epochs
clock.update({"wall": time.perf_counter(), "cpu": time.process_time()})
start_wall, start_cpu = time.perf_counter(), time.process_time()

from zoo_rank.cli import main
sys.argv = ["zoo-rank", "--target", sys.argv[1], "--json"]
try:
    main()
except SystemExit as exit:
    assert not exit.code, exit.code
total_wall, total_cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
measured = [k for k in order if k not in ("import the CLI", "import torch, transformers")]
add("the rest: save, embed, register, rank, CLI",
    total_wall - sum(phases[k]["wall"] for k in measured), total_cpu - sum(phases[k]["cpu"] for k in measured))
print("COST " + json.dumps({"phases": phases, "order": order, "steps": phases["step: optimiser"]["calls"],
                            "peak_mib": peak(), "threads": torch.get_num_threads()}))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        env = child_env(ZOO_RANK_HOME=str(home))
        data = quickstart_data(Path(scratch), env)
        result = subprocess.run([sys.executable, "-c", PROBE, str(data), str(home), str(args.threads)],
                                capture_output=True, text=True, env=env, check=False)
    line = next((x for x in result.stdout.splitlines() if x.startswith("COST ")), None)
    if result.returncode != 0 or line is None:
        sys.exit(f"the probe failed: {result.stderr[-3000:]}")
    cost = json.loads(line[5:])
    phases = cost["phases"]
    total_wall = sum(p["wall"] for p in phases.values())
    total_cpu = sum(p["cpu"] for p in phases.values())
    print(f"`zoo-rank --target my-data.csv` (623 hedge test examples), {cost['steps']} training steps, "
          f"{cost['threads']} torch threads; peak RSS {cost['peak_mib']:.0f} MiB")
    print("| phase | wall s | CPU s | share of wall | peak RSS by its end, MiB |")
    print("|---|---:|---:|---:|---:|")
    for name in cost["order"]:
        p = phases[name]
        calls = f" ({p['calls']}×)" if p["calls"] > 1 else ""
        print(f"| {name}{calls} | {p['wall']:.1f} | {p['cpu']:.1f} | {p['wall'] / total_wall:.0%} | "
              f"{p['peak_mib']:.0f} |")
    print(f"| **total** | **{total_wall:.1f}** | **{total_cpu:.1f}** | | **{cost['peak_mib']:.0f}** |")


if __name__ == "__main__":
    main()
