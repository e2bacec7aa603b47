"""#37's cost criterion on the CR tasks: one early BitFit embedding against TaskEmb, in CPU time,
task by task, on the same machine in the same run.

For each task of the CR matrix (the ten of results/transfer-cr-limited.jsonl, read from
../shared/tasks), two fresh interpreters one after the other, nothing else running:
* **BitFit, early**: what `zoo-rank --target` does for a data file (the default recipe: BitFit
  until learned, at most 400 steps) on the task's 1,000-example training sample, the target sample
  of the CR evaluation: train, save, embed, register in a scratch registry;
* **TaskEmb**: what `bench predict --methods taskemb` does for a task whose Fisher vector is
  missing: fine-tune every weight on the same 1,000 examples with the CR transfer runs' settings
  (3 epochs, batch 16), then the diagonal Fisher of that model.
Each is timed from after its imports to its vector, model loading included: wall seconds and
CPU seconds of the process (all threads). The ratio is BitFit's CPU seconds over TaskEmb's; the
goal in #37 is <= 20% for every task. Results are appended to --out as they come, so a stopped
run resumes where it was:

    python benchmarks/cost_ratio.py [--tasks cola,rte] [--out results/work/cost-ratio.jsonl]
                                    [--dropout RATE] [--patience STEPS]

``--dropout`` and ``--patience`` (a number, or ``model`` / ``off`` for none) train the BitFit
embedding with that recipe, as `zoo-rank --target --dropout --patience` does; left out, the early
rule's defaults. A row records the dropout and stop its run had, resolved (a row written before
rows recorded them had none: the defaults were the model's dropout and no stop then), and a row of
another recipe is not reused.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _machine import child_env, describe

from zoo_rank.cli.common import NONE_WORDS
from zoo_rank.training.config import DEFAULT, TrainConfig

ROOT = Path(__file__).resolve().parent.parent
GAINS = ROOT / "results" / "transfer-cr-limited.jsonl"
GOAL = 0.20

WORKER = r"""
import json, sys, time
kind, task, scratch, gains, recipe = sys.argv[1:6]
recipe = json.loads(recipe)
if kind == "bitfit":
    from zoo_rank.pipeline.train import train
    from zoo_rank.registry import Registry
    from zoo_rank.training import TrainConfig
    from zoo_rank.evaluation.transfer import config_from_results
    tasks_dir = config_from_results(gains).tasks_dir
    registry = Registry(scratch, builtin=False)
    wall, cpu = time.perf_counter(), time.process_time()
    (outcome,) = list(train(task, methods=("bitfit",), registry=registry, split="train", name=task + "/{method}",
                            config=TrainConfig(max_examples=1000, seed=0, device="cpu", **recipe),
                            tasks_dir=tasks_dir))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    training = outcome.entry.metadata["training"]
    extra = {"steps": training["steps"], "ended_by": (training.get("metrics") or {}).get("stopped_by", "?"),
             "training_cpu": training.get("cpu_seconds"),
             "recipe": {name: training["config"].get(name) for name in ("dropout", "patience")}}
else:
    from zoo_rank.evaluation.predict import _fisher_by_finetuning
    from zoo_rank.evaluation.transfer import FisherCapture, config_from_results
    config = config_from_results(gains)
    wall, cpu = time.perf_counter(), time.process_time()
    (_,) = _fisher_by_finetuning(config, "cpu", None, FisherCapture(scratch, 0), [("source", task)], True,
                                 {"source": {}, "target": {}}, lambda message: None)  # one fine-tuning; timed here
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    extra = {"epochs": config.source_epochs, "batch_size": config.batch_size}
print(json.dumps({"kind": kind, "task": task, "wall": wall, "cpu": cpu, **extra}))
"""


def _or_none(number: type, word: str):
    """An argparse type: a number, or ``word`` for None (the CLI's ``--dropout model``)."""
    return lambda text: None if text.strip().lower() == word else number(text)


def _recipe(row: dict) -> dict:
    """A BitFit row's dropout and stop; one written before rows held them had neither."""
    return {"dropout": None, "patience": None, **row.get("recipe", {})}


def run(kind: str, task: str, recipe: dict) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run([sys.executable, "-c", WORKER, kind, task, scratch, str(GAINS), json.dumps(recipe)], cwd=ROOT,
                              capture_output=True, text=True, env=child_env(ZOO_RANK_HOME=scratch), check=False)
    if done.returncode != 0:
        sys.exit(f"{kind} on {task} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=None, help="comma-separated CR tasks [default: all ten]")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "work" / "cost-ratio.jsonl")
    parser.add_argument("--dropout", type=_or_none(float, NONE_WORDS["dropout"]), default=DEFAULT,
                        help="BitFit's dropout rate, or 'model' [default: the early rule's]")
    parser.add_argument("--patience", type=_or_none(int, NONE_WORDS["patience"]), default=DEFAULT,
                        help="BitFit's no-progress stop in steps, or 'off' [default: the early rule's]")
    args = parser.parse_args()
    resolved = TrainConfig(dropout=args.dropout, patience=args.patience)
    recipe = {"dropout": resolved.dropout, "patience": resolved.patience}
    from zoo_rank.evaluation.transfer import config_from_results

    tasks = args.tasks.split(",") if args.tasks else list(config_from_results(GAINS).tasks)
    print(describe())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = list(map(json.loads, args.out.read_text().splitlines())) if args.out.exists() else []
    done = {(r["kind"], r["task"]): r for r in rows if r["kind"] != "bitfit" or _recipe(r) == recipe}
    print(f"BitFit's recipe: dropout {recipe['dropout']} (None: the model's), patience {recipe['patience']}")
    for task in tasks:
        for kind in ("bitfit", "taskemb"):
            if (kind, task) not in done:
                done[(kind, task)] = row = run(kind, task, recipe)
                with args.out.open("a") as out:
                    out.write(json.dumps(row) + "\n")
                print(f"  {task} {kind}: {row['wall']:.0f} s wall, {row['cpu']:.0f} s CPU", flush=True)
    print("\n| task | BitFit early: steps, ended by | wall s | CPU s | TaskEmb wall s | CPU s | "
          "BitFit / TaskEmb, CPU | <= 20% |\n|---|---|---:|---:|---:|---:|---:|---|")
    ratios = []
    for task in tasks:
        b, t = done[("bitfit", task)], done[("taskemb", task)]
        ratios.append(b["cpu"] / t["cpu"])
        print(f"| {task} | {b['steps']}, {b['ended_by']} | {b['wall']:.0f} | {b['cpu']:.0f} | {t['wall']:.0f} | "
              f"{t['cpu']:.0f} | {ratios[-1]:.0%} | {'yes' if ratios[-1] <= GOAL else 'no'} |")
    total_b = sum(done[("bitfit", t)]["cpu"] for t in tasks)
    total_t = sum(done[("taskemb", t)]["cpu"] for t in tasks)
    print(f"\nall {len(tasks)} tasks: BitFit {total_b:.0f} CPU s, TaskEmb {total_t:.0f} CPU s "
          f"({total_b / total_t:.0%}); goal met for {sum(r <= GOAL for r in ratios)} of {len(tasks)} tasks")


if __name__ == "__main__":
    main()
