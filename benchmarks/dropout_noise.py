"""How far apart two runs of the same recipe are when only their dropout masks differ, and what
that does to the quickstart's answer (#37's equivalence goal, and how to read a recipe change).

The quickstart's main job, `zoo-rank --target my-data.csv` (hedge test split, BitFit, the early
rule), in a fresh home with the shipped built-in registry, once per dropout stream, each in a
fresh interpreter. Stream 0 is zoo-rank as shipped; stream 0 again checks that a CPU run repeats
to the bit; stream k > 0 seeds torch's generator with 1000 + k after the model, its head and its
BitFit parameters are initialised, so the start and the data order are stream 0's and only the
dropout masks differ. Prints each run's steps and its place for hedge (the target's own task)
with the top three, then the cosine between streams in every space the run registered.

Why it matters: any change to how a step is computed (passes of another length, a kernel that
draws its masks otherwise, another device) draws other masks, so "cosine >= 0.99 to the float32
embedding" can only hold for a change that keeps the masks; this measures what the masks alone do.

Run on an idle machine: python benchmarks/dropout_noise.py [--streams 0,0,1,2,3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from itertools import combinations
from pathlib import Path

import numpy as np
from _machine import child_env, describe, quickstart_data

PROBE = r'''
import json, sys
import torch
import zoo_rank.training.loop as loop
from zoo_rank.api import rank
from zoo_rank.registry import Registry

home, data, stream = sys.argv[1], sys.argv[2], int(sys.argv[3])
if stream:
    train_epochs = loop.run_epochs
    def run_epochs(*args, **kwargs):  # called once the model is initialised: from here on, other masks
        torch.manual_seed(1000 + stream)
        yield from train_epochs(*args, **kwargs)
    loop.run_epochs = run_epochs
registry = Registry(home)
ranking = rank(data, registry=registry, top=None)
(entry,) = [e for e in Registry(home).entries() if (e.metadata or {}).get("training")
            and e.metadata.get("data_source", "").endswith("my-data.csv")]
print("RUN " + json.dumps({"steps": entry.metadata["training"]["steps"],
                           "order": [[c["task"], c["score"]] for c in ranking.to_list()],
                           "vectors": {e.space.id: e.vector.tolist() for e in registry.embeddings_of(entry)}}))
'''


def run(data: Path, stream: int, scratch: Path, number: int) -> dict:
    home = scratch / f"home-{number}"
    done = subprocess.run([sys.executable, "-c", PROBE, str(home), str(data), str(stream)],
                          capture_output=True, text=True, env=child_env(ZOO_RANK_HOME=str(home)), check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RUN ")), None)
    if done.returncode != 0 or line is None:
        sys.exit(f"stream {stream}: the probe failed: {done.stderr[-3000:]}")
    return json.loads(line[4:])


def cosine(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a), np.asarray(b)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="0,0,1,2,3", help="dropout streams, one run each (0: as shipped)")
    args = parser.parse_args()
    print(describe())
    streams = [int(s) for s in args.streams.split(",")]
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        data = quickstart_data(Path(scratch), child_env(ZOO_RANK_HOME=str(Path(scratch) / "export")))
        print("| run | dropout stream | steps | hedge's place (score) | first three |")
        print("|---:|---:|---:|---|---|")
        for number, stream in enumerate(streams):
            result = run(data, stream, Path(scratch), number)
            runs.append(result)
            tasks = [task for task, _ in result["order"]]
            place = tasks.index("hedge") + 1 if "hedge" in tasks else None
            score = result["order"][place - 1][1] if place else float("nan")
            top = ", ".join(f"{t} {s:.3f}" for t, s in result["order"][:3])
            print(f"| {number + 1} | {stream} | {result['steps']} | {place} of {len(tasks)} ({score:.3f}) | {top} |",
                  flush=True)
    print("\ncosine between runs, per space (runs numbered as above):")
    for space in sorted(runs[0]["vectors"]):
        pairs = [f"{i + 1}-{j + 1} {cosine(runs[i]['vectors'][space], runs[j]['vectors'][space]):.4f}"
                 for i, j in combinations(range(len(runs)), 2) if space in runs[j]["vectors"]]
        print(f"{space}: " + ", ".join(pairs))


if __name__ == "__main__":
    main()
