"""Ranking latency against a large registry, and its ratio to the memory-bandwidth floor.

Registers N entries of dimension D (random unit vectors, one space) through the real
Registry API in batches, then times `zoo_rank.rank(target)` end to end (target lookup,
space-matrix load from the registry's cache, scoring, top-10 metadata). The floor is the
bytes of the N × D float32 matrix divided by this machine's measured memory read bandwidth.

Run: python benchmarks/rank_latency.py [--n 100000] [--dim 8192] [--runs 15]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time

import numpy as np

from _machine import describe


def read_bandwidth(nbytes: int, runs: int = 5) -> float:
    """Bytes/s of a streaming read (a float32 sum over a fresh in-memory array)."""
    a = np.ones(nbytes // 4, dtype=np.float32)
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        np.add.reduce(a, dtype=np.float32)
        best = min(best, time.perf_counter() - start)
    return nbytes / best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=8192)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--home", default=None, help="registry folder (default: a temporary one)")
    args = parser.parse_args()
    home = args.home or tempfile.mkdtemp(prefix="zoo-rank-bench-")
    os.environ["ZOO_RANK_HOME"] = home
    from zoo_rank import Registry, Space, TaskEmbedding, rank
    from zoo_rank.registry import NewEntry

    print(describe())
    registry = Registry(home)
    space = Space("bench/base-model", "lora", "invariant", 1, args.dim)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    have = len(registry.entries()) if args.home else 0
    for first in range(have, args.n, 2000):
        batch = []
        for i in range(first, min(first + 2000, args.n)):
            v = rng.standard_normal(args.dim, dtype=np.float32)
            v /= np.linalg.norm(v)
            batch.append(NewEntry(name=f"entry-{i:07d}", source="bench", content_sha256=hashlib.sha256(str(i).encode()).hexdigest(),
                                  files={}, method="lora", format="bench", base_model=space.base_model,
                                  embeddings=[TaskEmbedding(space, v, 1.0)]))
        registry.insert(batch)
    print(f"registered {args.n} × {args.dim} in {time.perf_counter() - start:.1f} s "
          f"({os.path.getsize(os.path.join(home, 'registry.db')) / 1e9:.2f} GB database)")
    start = time.perf_counter()
    rank("entry-0000000", top=10)
    print(f"first ranking (builds the space-matrix cache from SQLite): {time.perf_counter() - start:.2f} s")
    times = []
    for i in range(args.runs):
        start = time.perf_counter()
        ranking = rank(f"entry-{i * 7:07d}", top=10)
        times.append(time.perf_counter() - start)
        assert len(ranking.candidates) == 10
    nbytes = args.n * args.dim * 4
    bandwidth = read_bandwidth(min(nbytes, 2 << 30))
    floor = nbytes / bandwidth
    median = statistics.median(times)
    print(f"rank one target vs {args.n} × {args.dim}: median {median * 1000:.0f} ms "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}) over {args.runs} runs, warm page cache")
    print(f"bytes scanned {nbytes / 1e9:.2f} GB; measured read bandwidth {bandwidth / 1e9:.1f} GB/s; "
          f"floor {floor * 1000:.0f} ms; ratio {median / floor:.2f}× (goal ≤ 3×)")
    matrix = Registry(home).space_matrix(space.id).matrix
    t = np.asarray(matrix[0])
    start = time.perf_counter()
    for _ in range(3):
        matrix @ t
    print(f"of which the matrix-vector product alone: {(time.perf_counter() - start) / 3 * 1000:.0f} ms")


if __name__ == "__main__":
    main()
