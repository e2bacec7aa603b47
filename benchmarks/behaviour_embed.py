"""Seconds to a behaviour embedding per adapter (goal: <= 10 s on 2 CPU cores, default model).

Each method's adapter is written by real peft (LoRA r8 on query/value, prefix tuning with 20
virtual tokens) or zoo-rank (BitFit) on the base model, with non-zero weights, then embedded
in a fresh process: once cold (loading the base model and running the probe set through it
without an adapter, which a process does once) and then warm (the cost of every further
adapter in that process, as in `zoo-rank embed` over a registry).

    python benchmarks/behaviour_embed.py                    # default model (6 layers, 384 wide)
    python benchmarks/behaviour_embed.py --model bert-base  # 12 layers, 768 wide, from its config

Needs `zoo-rank fetch model`. bert-base uses random weights with the default model's
tokenizer (benchmarks/train_embedding.py): fine for timing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _machine import describe
from train_embedding import bert_base_dir

WORKER = r"""
import json, resource, sys, time
args = json.loads(sys.argv[1])
from zoo_rank.embedders.behaviour import BehaviourEmbedder
from zoo_rank.readers import read_checkpoint
weights = [read_checkpoint(path) for path in args["checkpoints"]]
embedder, times = BehaviourEmbedder(), []
for w in weights + weights:  # each adapter twice: the first pass includes the one-off base run
    started = time.perf_counter()
    embedder.embed(w, base_model=args["model"])
    times.append(time.perf_counter() - started)
print(json.dumps({"times": times, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_adapters(model_dir: str, root: Path) -> list[str]:
    import numpy as np
    import torch
    from peft import LoraConfig, PrefixTuningConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification

    from zoo_rank import save_bitfit

    out = []
    for name, config in (("lora", LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=8,
                                             target_modules=["query", "value"])),
                         ("prefix", PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=20))):
        torch.manual_seed(0)
        model = get_peft_model(AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2), config)
        with torch.no_grad():
            for param_name, param in model.named_parameters():
                if "lora_B" in param_name:
                    param.normal_(0, 0.02)
        model.save_pretrained(root / name)
        out.append(str(root / name))
    base = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    rng = np.random.default_rng(0)
    deltas = {n: rng.normal(0, 0.01, p.shape).astype(np.float32) for n, p in base.named_parameters()
              if n.endswith(".bias") and not n.startswith("classifier")}
    save_bitfit(root / "bitfit", deltas, base_model=model_dir)
    out.append(str(root / "bitfit"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", choices=["default", "bert-base"])
    args = parser.parse_args()
    from zoo_rank.training import default_model_dir

    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        model = str(default_model_dir()) if args.model == "default" else str(bert_base_dir(Path(tmp)))
        checkpoints = write_adapters(model, Path(tmp))
        run = subprocess.run([sys.executable, "-c", WORKER, json.dumps({"model": model, "checkpoints": checkpoints})],
                             capture_output=True, text=True, check=True)
        result = json.loads(run.stdout.strip().splitlines()[-1])
    names = [Path(c).name for c in checkpoints]
    n = len(names)
    cold, warm = result["times"][:n], result["times"][n:]
    print(f"model: {args.model}; probe set: zoo_rank/data/probes.json; torch threads: torch's default")
    print(f"first adapter in a process (loads the model, runs the probes without an adapter): {cold[0]:.2f} s")
    for name, seconds in zip(names, warm):
        print(f"{name}: {seconds:.2f} s per adapter (warm)")
    print(f"peak memory of the embedding process: {result['peak_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
