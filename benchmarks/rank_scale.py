"""Ranking at scale per search backend: latency, peak memory and recall@10 for N = 10⁴, 10⁵, 10⁶.

For each N, one registry (float16 vector storage, ZOO_RANK_VECTOR_DTYPE=float16) holds N
unit vectors of dimension D (default 8192, the invariant embedder's) in one space, drawn
around 1,000 cluster centres (task embeddings of related tasks cluster; uniform random
vectors would make every index look perfect or hopeless). Then, per backend, a fresh
process ranks Q targets (fresh draws around the same centres) through the real ranker
(`rank_embeddings`, top 10): the first query (which builds or loads the cache or index), and
the median of the rest (indexes stay loaded in the process between queries). Peak RSS is
that process's (VmHWM: it counts memory-mapped file pages it touched). Recall@10 is against the exact top 10,
computed here by streaming the registry. The floor is the bytes a backend must read per
query divided by this machine's measured memory read bandwidth.

Run: python benchmarks/rank_scale.py [--sizes 10000,100000,1000000] [--dim 8192] [--queries 20] [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _machine import describe  # noqa: E402

CLUSTERS = 1000


def _space(dim: int):
    from zoo_rank.spaces import Space

    return Space("bench/base-model", "lora", "invariant", 1, dim)


def _draw(n: int, dim: int, seed: int, centre_seed: int = 0) -> np.ndarray:
    """n unit vectors around the benchmark's fixed centres (different ``seed``, same centres)."""
    centres = np.random.default_rng(centre_seed).standard_normal((CLUSTERS, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(0, CLUSTERS, n)] + rng.standard_normal((n, dim), dtype=np.float32) * (0.6 / np.sqrt(dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def read_bandwidth(nbytes: int = 2 << 30, runs: int = 5) -> float:
    """Bytes/s of the fastest streaming read found here: a single-threaded float32 sum, or a
    BLAS matrix-vector product (all cores) over a fresh in-memory matrix."""
    a = np.ones((nbytes // 4 // 4096, 4096), dtype=np.float32)
    v = np.ones(4096, dtype=np.float32)
    best = float("inf")
    for _ in range(runs):
        for scan in (lambda: np.add.reduce(a.reshape(-1), dtype=np.float32), lambda: a @ v):
            started = time.perf_counter()
            scan()
            best = min(best, time.perf_counter() - started)
    return a.nbytes / best


def build(home: Path, n: int, dim: int) -> float:
    """Register n vectors in batches; returns seconds."""
    from zoo_rank.spaces import TaskEmbedding
    from zoo_rank.registry import NewEntry, Registry

    os.environ["ZOO_RANK_VECTOR_DTYPE"] = "float16"
    registry = Registry(home, builtin=False)
    space = _space(dim)
    started = time.perf_counter()
    for first in range(0, n, 10_000):
        block = _draw(min(10_000, n - first), dim, seed=1 + first)
        registry.insert([NewEntry(name=f"e{first + i:07d}", source="bench", content_sha256=f"{first + i:064d}",
                                  files={}, method="lora", format="bench", base_model=space.base_model,
                                  embeddings=[TaskEmbedding(space, row, 1.0)]) for i, row in enumerate(block)])
    registry.close()
    return time.perf_counter() - started


def exact_top10(home: Path, queries: np.ndarray, dim: int) -> list[list[int]]:
    """Ground truth by streaming every stored vector once (no cache, no index)."""
    from zoo_rank.registry import Registry

    registry = Registry(home, builtin=False)
    names = dict(registry.db.execute("SELECT id, name FROM entries"))
    best_ids = np.empty((len(queries), 0), np.int64)
    best = np.empty((len(queries), 0), np.float32)
    for ids, block in registry.iter_space(_space(dim).id):
        scores = np.concatenate([best, queries @ block.T], axis=1)
        every = np.concatenate([best_ids, np.broadcast_to(ids, (len(queries), len(ids)))], axis=1)
        keep = np.argpartition(-scores, 9, axis=1)[:, :10]
        best, best_ids = np.take_along_axis(scores, keep, 1), np.take_along_axis(every, keep, 1)
    return [sorted(int(names[i][1:]) for i in row.tolist()) for row in best_ids]


def worker(home: Path, backend: str, dim: int, queries: int, draw: int, out: Path) -> None:
    from zoo_rank.spaces import TaskEmbedding
    from zoo_rank.ranker import rank_embeddings
    from zoo_rank.registry import Registry

    registry = Registry(home, builtin=False)
    space = _space(dim)
    times, found = [], []
    for q in _draw(draw, dim, seed=10**9)[:queries]:  # the same draw as the ground truth's, then its first few
        started = time.perf_counter()
        ranking = rank_embeddings(registry, [TaskEmbedding(space, q, 1.0)], label="q", index=backend, top=10)
        times.append(time.perf_counter() - started)
        found.append(sorted(int(c.name[1:]) for c in ranking.candidates))
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    out.write_text(json.dumps({"times": times, "found": found, "peak_mib": peak / 1024}))


def run_worker(home: Path, backend: str, dim: int, queries: int, draw: int, env: dict) -> tuple[dict, float]:
    out = home / f"result-{backend}.json"
    process = subprocess.Popen([sys.executable, __file__, "--worker", str(home), "--backend", backend,
                                "--dim", str(dim), "--queries", str(queries), "--draw", str(draw)], env=env)
    if process.wait() != 0:
        raise SystemExit(f"worker {backend} failed with status {process.returncode}")
    result = json.loads(out.read_text())
    return result, result["peak_mib"]  # VmHWM of the worker: ru_maxrss would count the parent's pages at fork


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dim", type=int, default=8192)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--root", default="/tmp/zoo-rank-scale", help="where the registries go (deleted after)")
    parser.add_argument("--backends", default="numpy,faiss-flat,faiss-ivf")
    parser.add_argument("--existing", metavar="HOME",
                        help="measure a registry this script built before (one size in --sizes); it is kept")
    parser.add_argument("--worker", metavar="HOME", help=argparse.SUPPRESS)
    parser.add_argument("--draw", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        home = Path(args.worker)
        worker(home, args.backend, args.dim, args.queries, args.draw, home / f"result-{args.backend}.json")
        return
    import faiss

    print(describe())
    print(f"faiss {faiss.__version__}; index dim {os.environ.get('ZOO_RANK_INDEX_DIM', '1024')}; "
          f"nprobe {os.environ.get('ZOO_RANK_IVF_NPROBE', 'nlist/8')}")
    bandwidth = read_bandwidth()
    print(f"measured memory read bandwidth: {bandwidth / 1e9:.1f} GB/s")
    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    print("| N | backend | first query s | median query ms | peak RSS MiB | recall@10 | bytes read/query | floor ms | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in map(int, args.sizes.split(",")):
        home = Path(args.existing or Path(args.root) / f"n{n}")
        if not args.existing:
            shutil.rmtree(home, ignore_errors=True)
            seconds = build(home, n, args.dim)
            size = (home / "registry.db").stat().st_size
            print(f"<!-- N={n}: registered in {seconds:.0f} s, database {size / 1e9:.2f} GB -->", flush=True)
        truth = exact_top10(home, _draw(args.queries, args.dim, seed=10**9), args.dim)
        env = {**os.environ, "ZOO_RANK_BUILTIN": "0"}
        env.pop("ZOO_RANK_VECTOR_DTYPE", None)
        for backend in args.backends.split(","):
            f32 = n * args.dim * 4
            # numpy scans the ranking cache: float32 up to 4 GiB of it, float16 beyond (registry.py)
            matrix_bytes = f32 if backend == "faiss-flat" or f32 <= 4 << 30 else f32 // 2
            if backend == "faiss-flat" and matrix_bytes > 0.8 * mem_total:
                print(f"| {n:,} | {backend} | – | – | – | – | {matrix_bytes / 1e9:.1f} GB | – | does not fit: a flat "
                      f"index holds N × D float32 in memory ({matrix_bytes / 2**30:.0f} GiB > RAM) |", flush=True)
                continue
            cached = list((home / "spaces").glob("*.matrix.npy"))
            if backend == "numpy" and not cached and shutil.disk_usage(home).free < 1.2 * matrix_bytes:
                print(f"| {n:,} | {backend} | – | – | – | – | – | – | not run: its {matrix_bytes / 1e9:.0f} GB matrix "
                      f"cache does not fit on this disk |", flush=True)
                continue
            # a float16 scan of 10⁶ × 8,192 takes seconds per query: fewer queries for it
            queries = min(args.queries, 5) if backend == "numpy" and matrix_bytes < f32 else args.queries
            result, peak = run_worker(home, backend, args.dim, queries, args.queries, env)
            times = result["times"]
            recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(result["found"], truth[:queries])])
            warm = statistics.median(times[1:])
            if backend == "faiss-ivf":
                lists = max(1, min(int(np.sqrt(n)), n // 39))
                probe = int(os.environ.get("ZOO_RANK_IVF_NPROBE", "0")) or max(1, lists // 8)
                dim = min(args.dim, int(os.environ.get("ZOO_RANK_INDEX_DIM", "1024")))
                shortlist = int(os.environ.get("ZOO_RANK_SHORTLIST", "1000")) + 10
                read = n * min(probe, lists) / lists * dim * 2 + min(shortlist, n) * args.dim * 2  # lists + re-scoring
            else:
                read = matrix_bytes
            floor = read / bandwidth
            print(f"| {n:,} | {backend} | {times[0]:.1f} | {warm * 1000:.1f} | {peak:.0f} | {recall:.3f} | "
                  f"{read / 1e6:,.0f} MB | {floor * 1000:.1f} | {warm / floor:.1f}× |", flush=True)
        if not args.existing:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
