"""Ingest throughput: realzoo-sized PEFT LoRA adapters read, embedded (both embedders) and
registered per second from local disk (goal ≥ 100/s on 2 cores).

Writes N distinct adapters shaped like ../shared/realzoo/distilbert_emotion_dayanidhi
(distilbert, r=8, q_lin+v_lin, 6 layers, plus its classifier head: ~3 MB each), then times
one `zoo-rank add` of them all into an empty registry: in-process, and with the default
executor ("auto": one worker process per core, one BLAS thread each, past 32 checkpoints).

Run: python benchmarks/ingest.py [--n 300]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from _machine import describe

CONFIG = {"peft_type": "LORA", "base_model_name_or_path": "distilbert-base-uncased", "r": 8, "lora_alpha": 16,
          "target_modules": ["q_lin", "v_lin"], "modules_to_save": ["pre_classifier", "classifier"],
          "task_type": "SEQ_CLS", "use_rslora": False, "use_dora": False}


def write_adapters(root: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    head = {"base_model.model.pre_classifier.weight": rng.normal(size=(768, 768)).astype(np.float32),
            "base_model.model.pre_classifier.bias": np.zeros(768, np.float32),
            "base_model.model.classifier.weight": rng.normal(size=(6, 768)).astype(np.float32),
            "base_model.model.classifier.bias": np.zeros(6, np.float32)}
    folders = []
    for i in range(n):
        folder = root / f"adapter-{i:05d}"
        folder.mkdir(parents=True)
        tensors = dict(head)
        for layer in range(6):
            for module in ("q_lin", "v_lin"):
                stem = f"base_model.model.distilbert.transformer.layer.{layer}.attention.{module}"
                tensors[f"{stem}.lora_A.weight"] = rng.normal(0, 0.02, (8, 768)).astype(np.float32)
                tensors[f"{stem}.lora_B.weight"] = rng.normal(0, 0.02, (768, 8)).astype(np.float32)
        save_file(tensors, str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})
        (folder / "adapter_config.json").write_text(json.dumps(CONFIG))
        folders.append(folder)
    return folders


def timed(home: str, folders: list[Path], executor: str) -> tuple[float, int]:
    """One `zoo-rank add` of every folder, as a user runs it: a fresh process, one transaction."""
    root = folders[0].parent
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "zoo_rank", "--home", home, "--no-builtin", "add", str(root),
                           "--executor", executor, "--json"], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, len(json.loads(done.stdout)["added"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_adapters(Path(tmp) / "adapters", args.n)
        size = sum(f.stat().st_size for f in folders[0].iterdir()) / 1e6
        print(f"{args.n} adapters of {size:.1f} MB each (distilbert LoRA r=8 q,v + head)")
        for executor in ("inprocess", "auto"):
            home = str(Path(tmp) / f"home-{executor}")
            seconds, added = timed(home, folders, executor)
            assert added == args.n, added
            print(f"zoo-rank add --executor {executor}: {added} registered in {seconds:.2f} s = "
                  f"{added / seconds:.0f} adapters/s, interpreter start included (goal ≥ 100/s on 2 cores)")


if __name__ == "__main__":
    main()
