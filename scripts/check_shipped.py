"""Retrain shipped built-in tasks from scratch and compare each run's vectors with the shipped
registry's, byte for byte: the check that a change to the training or ingestion path left the
shipped recipe's output as it was (or, after a recipe change, that the registry must be rebuilt).

    python scripts/check_shipped.py tweet-sentiment tweet-polarity     # default: every shipped task

Needs the assets (`zoo-rank fetch`) and the training stack. Prints one line per run (its content
hash, training key and a digest of its vectors, to compare two versions of zoo-rank run on one
machine) and exits 1 when any vector differs from the shipped one.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path


def main(tasks: list[str]) -> int:
    from zoo_rank.builtin_registry import shipped_entries
    from zoo_rank.datasets import TASKS
    from zoo_rank.pipeline.train import train
    from zoo_rank.registry import Registry
    from zoo_rank.settings import default_home
    from zoo_rank.training import TrainConfig

    shipped = {e.name: {emb.space.id: emb.vector.tobytes() for emb in e.embeddings} for e in shipped_entries()}
    tasks = tasks or [name for name, spec in TASKS.items() if spec.shipped]
    differ = 0
    with tempfile.TemporaryDirectory() as scratch:
        registry = Registry(Path(scratch), builtin=False)
        for task in tasks:
            started, cpu = time.perf_counter(), time.process_time()
            for done in train(task, methods=("bitfit", "lora", "prefix"), registry=registry,
                              config=TrainConfig(device="cpu"), split="train", columns={}, assets_home=default_home(),
                              warn=lambda line: None):
                mine = {emb.space.id: emb.vector.tobytes() for emb in registry.embeddings_of(done.entry)}
                theirs = shipped.get(done.entry.name, {})
                same = [space for space in theirs if mine.get(space) == theirs[space]]
                ok = theirs and len(same) == len(theirs)
                differ += not ok
                digest = hashlib.sha256(b"".join(mine[space] for space in sorted(mine))).hexdigest()[:12]
                cosines = [_cosine(mine[space], theirs[space]) for space in theirs if space in mine]
                print(f"{done.entry.name}: {len(same)}/{len(theirs)} shipped vectors identical "
                      f"({'same' if ok else 'DIFFERENT'}; lowest cosine to the shipped {min(cosines, default=0):.7f}); "
                      f"content {done.entry.content_sha256[:12]}, key {done.entry.metadata['train_key'][:12]}, "
                      f"vectors {digest}", flush=True)
            print(f"{task}: {time.perf_counter() - started:.0f} s wall, {time.process_time() - cpu:.0f} s CPU",
                  flush=True)
        registry.close()
    return 1 if differ else 0


def _cosine(a: bytes, b: bytes) -> float:
    import numpy as np

    x, y = np.frombuffer(a, dtype=np.float32), np.frombuffer(b, dtype=np.float32)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y))) if len(x) == len(y) else 0.0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
