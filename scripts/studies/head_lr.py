"""Does the fresh task head's learning rate decide whether an early run learns anything?

    python scripts/studies/head_lr.py [--tasks hedge,snli,movie-sentiment] [--methods bitfit,lora] [--steps 128]

Trains each built-in task (train split, 1,000 examples, seed 0, batch 32, the method's paper
learning rate) for --steps steps twice: with the head at the method's rate (the paper's recipe)
and at 1e-2 (what `--until-learned` uses), and prints the smoothed training loss (an EMA of
span 16, as the early rule reads it) at a quarter, half, three quarters and all of the steps,
against the chance loss. One JSON line per run is appended to --out (resumable).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from jsonl import append_run, done_runs

from zoo_rank.datasets import load_data
from zoo_rank.training import TrainConfig, train_checkpoint
from zoo_rank.training.config import EARLY_HEAD_LR, PAPER_LEARNING_RATES
from zoo_rank.training.objectives import objective_for
from zoo_rank.training.models import resolve_base_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="hedge,snli,movie-sentiment")
    parser.add_argument("--methods", default="bitfit,lora")
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--out", default="results/work/head-lr.jsonl")
    args = parser.parse_args()
    out, done = done_runs(args.out, "task", "method", "head_lr", "steps")
    base = resolve_base_model()
    marks = [args.steps * q // 4 for q in (1, 2, 3, 4)]
    for task in args.tasks.split(","):
        dataset = load_data(task, split="train")
        for method in args.methods.split(","):
            for head_lr in (PAPER_LEARNING_RATES[method][0], EARLY_HEAD_LR):
                if (task, method, head_lr, args.steps) in done:
                    continue
                losses: list[float] = []
                config = TrainConfig(method=method, steps=args.steps, head_lr=head_lr, device="cpu")
                scratch = Path(tempfile.mkdtemp(prefix="head-lr-"))
                try:
                    result = train_checkpoint(dataset, scratch / "checkpoint", config, base,
                                              progress=lambda _l, _s, _t, loss: loss is not None and losses.append(loss))
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
                smoothed, ema = {}, None
                for step, loss in enumerate(losses, 1):
                    ema = loss if ema is None else 2 / 17 * loss + 15 / 17 * ema
                    if step in marks:
                        smoothed[step] = round(ema, 4)
                objective, sample = objective_for(dataset), dataset.sample(config.max_examples, config.seed)
                row = {"task": task, "method": method, "head_lr": head_lr, "steps": args.steps,
                       "chance_loss": round(objective.chance(objective.targets(sample)[0], None), 4),
                       "smoothed_loss": smoothed, "seconds": result.seconds}
                append_run(out, row)
                print(json.dumps(row), file=sys.stderr)
    print("task | method | head lr | chance | " + " | ".join(f"loss @{m}" for m in marks))
    for row in map(json.loads, out.open()):
        if row["steps"] == args.steps:
            print(f"{row['task']} | {row['method']} | {row['head_lr']:g} | {row['chance_loss']:.3f} | "
                  + " | ".join(f"{row['smoothed_loss'][str(m)]:.3f}" for m in marks))


if __name__ == "__main__":
    main()
