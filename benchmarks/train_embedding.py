"""Seconds (and peak memory) to one task embedding per method, "early" vs "best".

Each run is a fresh process that does what `zoo-rank --target DATA` does for one method:
load the data, load the base model, train, write the checkpoint, read it back and embed it.
Peak memory is that process's maximum resident set size. Goal for the main job: the target's
BitFit embedding in <= 120 s on a 2-core CPU with the default model, 1,000 examples.

    python train_embedding.py                          # default model, CPU, early + best
    python train_embedding.py --modes early --device cuda --model bert-base

--model bert-base builds a BERT-base-sized model from its config (random weights, the default
model's tokenizer): fine for timing. Needs `zoo-rank fetch model hedge` (or --task's data).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _machine import describe

WORKER = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from zoo_rank.datasets import load_builtin
from zoo_rank.training import TrainConfig, resolve_base_model, train_checkpoint
from zoo_rank import read_checkpoint, embed
args = json.loads(sys.argv[1])
data = load_builtin(args["task"], "train").sample(args["examples"], 0)
base = resolve_base_model(args["model"], name=args["model_name"])
config = TrainConfig(method=args["method"], mode=args["mode"], device=args["device"], max_examples=args["examples"])
t1 = time.perf_counter()
result = train_checkpoint(data, args["out"], config, base)
embedding = embed(read_checkpoint(result.checkpoint), "invariant")
t2 = time.perf_counter()
peak_gpu = 0
if result.device.startswith("cuda"):
    import torch
    peak_gpu = torch.cuda.max_memory_allocated() / 2**30
print(json.dumps({"seconds": t2 - t0, "train_seconds": result.seconds, "setup_seconds": t1 - t0,
                  "steps": result.steps, "device": result.device, "lr": result.learning_rate,
                  "metrics": result.metrics, "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "peak_gpu_gib": peak_gpu, "dim": int(embedding.vector.shape[0])}))
"""


def bert_base_dir(root: Path) -> Path:
    """BERT-base (12 layers, 768 wide) from its config, with the default model's tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from zoo_rank.training import default_model_dir

    out = root / "bert-base-from-config"
    AutoTokenizer.from_pretrained(default_model_dir()).save_pretrained(out)
    BertModel(BertConfig()).save_pretrained(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="hedge", help="built-in task to train on (default: hedge)")
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--methods", default="bitfit,lora,prefix")
    parser.add_argument("--modes", default="early,best")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="default", choices=["default", "bert-base"])
    args = parser.parse_args()
    print(describe())
    import torch
    import transformers

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers {transformers.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        model, name = None, None
        if args.model == "bert-base":
            model, name = str(bert_base_dir(Path(tmp))), "bert-base-from-config"
        print(f"task {args.task}, {args.examples} training examples, model {name or 'default (all-MiniLM-L6-v2)'}, "
              f"device {args.device}")
        for mode in args.modes.split(","):
            for method in args.methods.split(","):
                job = {"task": args.task, "examples": args.examples, "method": method, "mode": mode,
                       "device": args.device, "model": model, "model_name": name, "out": f"{tmp}/{method}-{mode}"}
                done = subprocess.run([sys.executable, "-c", WORKER, json.dumps(job)], capture_output=True, text=True)
                if done.returncode != 0:
                    print(f"{method:7s} {mode:5s} FAILED: {done.stderr.strip().splitlines()[-1]}")
                    continue
                r = json.loads(done.stdout.strip().splitlines()[-1])
                gpu = f", GPU peak {r['peak_gpu_gib']:.2f} GiB" if r["peak_gpu_gib"] else ""
                metric = {k: round(v, 3) for k, v in r["metrics"].items() if k.startswith("validation_")}
                print(f"{method:7s} {mode:5s} {r['seconds']:7.1f} s to the embedding ({r['steps']} steps, "
                      f"{r['train_seconds']:.1f} s training incl. model load, {r['setup_seconds']:.1f} s data+imports) "
                      f"lr {r['lr']:g}; peak RSS {r['peak_rss_gib']:.2f} GiB{gpu} {metric or ''}")


if __name__ == "__main__":
    main()
