"""Peak memory of `zoo-rank add` on a real LoRA that carries a large tensor it does not embed (goal ≤ 300 MiB).

A published LoRA (`../shared/realzoo/distilbert_emotion_dayanidhi`) is copied and a float32
`modules_to_save` tensor of --extra-mib MiB (default 1024) is added to its safetensors file: the
shape of a checkpoint that saved a whole classifier or embedding matrix beside its adapter. The
command runs in a fresh process with an empty registry; its peak RSS is read from the kernel
(`ru_maxrss` of the finished child).

Run: python benchmarks/adapter_memory.py [--extra-mib 1024] [--source DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import describe

ROOT = Path(__file__).resolve().parents[1]
WRITE_HEAD = """
import sys
import numpy as np
from safetensors.numpy import load_file, save_file
tensors = load_file(sys.argv[1])
rows = int(sys.argv[2]) * (1 << 20) // 4 // 1024
tensors["base_model.model.pre_classifier.modules_to_save.default.weight"] = np.ones((rows, 1024), np.float32)
save_file(tensors, sys.argv[1])
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extra-mib", type=int, default=1024)
    parser.add_argument("--source", type=Path,
                        default=ROOT.parent / "shared" / "realzoo" / "distilbert_emotion_dayanidhi")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "lora-with-head"
        shutil.copytree(args.source, folder)
        # written by another process: this one must stay small, or its forked child's peak would count it
        subprocess.run([sys.executable, "-c", WRITE_HEAD, str(folder / "adapter_model.safetensors"),
                        str(args.extra_mib)], check=True)
        size = (folder / "adapter_model.safetensors").stat().st_size
        env = {**os.environ, "ZOO_RANK_HOME": str(Path(scratch) / "home"), "ZOO_RANK_BUILTIN": "0"}
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "zoo_rank", "add", str(folder)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the largest of all children
        seconds = time.perf_counter() - started
        peak = usage.ru_maxrss
        error = child.stderr.read().decode()
    print(describe())
    if status != 0:
        sys.exit(f"zoo-rank add failed: {error.strip()}")
    print(f"zoo-rank add of a LoRA with a {args.extra_mib} MiB unused tensor (file {size / 2**20:.0f} MiB): "
          f"peak RSS {peak / 1024:.0f} MiB, {seconds:.1f} s wall (goal ≤ 300 MiB)")


if __name__ == "__main__":
    main()
