"""faiss indexes of a space, persisted beside the registry and rebuilt when stale.

* ``faiss-flat``: exact inner-product search over the full unit vectors (``IndexFlatIP``);
  memory: N × dim × 4 bytes, the same as numpy's scan, but faiss's kernels.
* ``faiss-ivf``: approximate. Vectors are projected to ``INDEX_DIM`` dimensions
  (``projection.py``), stored as float16 in an inverted file of √N lists (k-means on a
  sample of 40 per list), and ``nprobe`` (default: an eighth of the lists) are scanned
  per query; the shortlist is then re-scored exactly from the registry.
  10⁶ vectors of any dimension take ~2 GB.

An index file is named after its space and the space's generation (random, new at each write), so a registry
write (which bumps the generation) makes it stale; the next query builds a new one, written
atomically, and deletes the old. Deleting the folder only costs a rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import settings
from ..errors import DependencyError
from .projection import Projection

INDEX_DIM = settings.index_dim()  # read once: indexes on disk were built with it
_OPEN: dict[str, "FaissIndex"] = {}  # indexes this process has loaded, by file (its name holds the generation)


def _faiss():
    try:
        import faiss
    except ImportError:
        raise DependencyError("searching with faiss needs faiss",
                              hint="install it: pip install 'zoo-rank[faiss]'") from None
    return faiss


@dataclass
class FaissIndex:
    kind: str
    index: object
    projection: Projection | None
    mean: np.ndarray | None  # set when built over centred vectors
    path: Path

    def search(self, query: np.ndarray, k: int, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(entry ids, approximate scores) of the ``k`` nearest vectors to the unit ``query``."""
        q = np.asarray(query, dtype=np.float32)[None, :]
        if self.mean is not None:
            q = q - self.mean
            q /= max(float(np.linalg.norm(q)), 1e-12)
        if self.projection is not None:
            q = self.projection(q)
        if self.kind == "faiss-ivf":
            lists = self.index.nlist
            nprobe = nprobe or settings.ivf_nprobe() or max(1, lists // 8)
            self.index.nprobe = min(lists, nprobe)
        scores, ids = self.index.search(np.ascontiguousarray(q, np.float32), k)
        found = ids[0] >= 0
        return ids[0][found], scores[0][found]


def open_index(registry, space_id: str, kind: str, centred: bool = False) -> FaissIndex:
    """The space's index of ``kind``, built now if missing or stale."""
    faiss = _faiss()
    generation, dim, count = registry.space_info(space_id)
    path = registry.cache.index_path(space_id, generation, kind, centred)
    if str(path) in _OPEN:
        return _OPEN[str(path)]
    projection = Projection(dim, INDEX_DIM) if kind == "faiss-ivf" and dim > INDEX_DIM else None
    mean_path = path.with_suffix(".mean.npy")
    index = None
    if path.exists() and (not centred or mean_path.exists()):
        # an IVF index is memory-mapped (opening costs nothing, the OS pages in the probed lists);
        # faiss copies a flat index into memory whatever the flag
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if kind == "faiss-ivf" else 0
        try:
            index = FaissIndex(kind, faiss.read_index(str(path), flags), projection,
                               np.load(mean_path) if centred else None, path)
        except (RuntimeError, OSError, ValueError):
            index = None  # unreadable (disk trouble, a foreign file): rebuilt below
    if index is None:
        mean = _mean(registry, space_id, dim) if centred else None
        built = _build(faiss, registry, space_id, kind, dim, count, projection, mean)
        _store(faiss, registry.cache, built, path, mean)
        index = FaissIndex(kind, built, projection, mean, path)
    if len(_OPEN) >= 4:
        _OPEN.pop(next(iter(_OPEN)))
    _OPEN[str(path)] = index
    return index


def _mean(registry, space_id: str, dim: int) -> np.ndarray:
    total, count = np.zeros(dim, np.float64), 0
    for _, block in registry.iter_space(space_id, rows=8192):
        total += block.sum(axis=0, dtype=np.float64)
        count += len(block)
    return (total / max(count, 1)).astype(np.float32)


def _prepare(vectors: np.ndarray, mean: np.ndarray | None, projection: Projection | None) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float32)
    if mean is not None:
        x = x - mean
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(projection(x) if projection is not None else x)


def _build(faiss, registry, space_id, kind, dim, count, projection, mean):
    d = projection.dim_out if projection is not None else dim
    if kind == "faiss-flat":
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(d))
    else:
        nlist = max(1, min(int(np.sqrt(count)), count // 39))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_fp16,
                                              faiss.METRIC_INNER_PRODUCT)
        ids = registry.space_ids(space_id)
        sample = np.random.default_rng(0).choice(ids, size=min(len(ids), 40 * nlist), replace=False)
        index.train(_prepare(registry.vectors_for(space_id, sample)[1], mean, projection))
    for ids, block in registry.iter_space(space_id, rows=8192):  # small blocks: the build's memory stays ~1 GB
        index.add_with_ids(_prepare(block, mean, projection), ids.astype(np.int64))
    return index


def _store(faiss, cache, index, path: Path, mean: np.ndarray | None) -> None:
    """Write atomically through the space cache; a read-only disk only costs a rebuild."""
    try:
        if mean is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path.with_suffix(".mean.npy"), mean)
        cache.store_index(path, lambda tmp: faiss.write_index(index, tmp))
    except (OSError, RuntimeError):  # faiss reports a full disk as RuntimeError
        pass
