"""Files derived from the registry, one set per space and generation: the memory-mappable
ranking matrix (``<home>/spaces``) and the faiss indexes (``<home>/indexes``).

The SQLite registry is the truth; everything here is a cache of it. A file is named after
its space and the space's generation token (``Registry.generation_token``: the registry's
instance and the space's generation, drawn at random by each write), so a write makes every derived file of that space
stale; the next reader builds new ones, written atomically, and the old generations are
deleted. Any of these files may be deleted at any time: it only costs a rebuild. A disk that
is read-only or full costs speed, never a result: the matrix is then built in memory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import settings
from .spaces import Space

STALE_TEMP_SECONDS = 3600
_PARTS = ("ids", "mean", "matrix")  # written in this order; matrix last marks completeness


@dataclass
class SpaceMatrix:
    """All vectors of one space, row-aligned with ``entry_ids``; ``mean`` is for centring."""

    space: Space
    entry_ids: np.ndarray
    matrix: np.ndarray
    mean: np.ndarray


def space_stem(space_id: str) -> str:
    """The file-name stem of a space's derived files (ranking cache, faiss indexes)."""
    return hashlib.sha256(space_id.encode()).hexdigest()[:20]


class SpaceCache:
    """The derived files of the registry under ``home``."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.matrices = self.home / "spaces"
        self.indexes = self.home / "indexes"

    def matrix_stem(self, space_id: str, token: str) -> Path:
        return self.matrices / f"{space_stem(space_id)}.g{token}"

    def index_path(self, space_id: str, token: str, kind: str, centred: bool) -> Path:
        """Where a faiss index of ``kind`` over a space's generation ``token`` is kept."""
        return self.indexes / f"{space_stem(space_id)}.g{token}.{kind}{'.centred' if centred else ''}.faiss"

    def load(self, space_id: str, token: str) -> SpaceMatrix | None:
        """The cached matrix of this generation, memory-mapped; None when absent or unreadable."""
        stem = self.matrix_stem(space_id, token)
        if not stem.with_name(stem.name + ".matrix.npy").exists():
            return None
        try:
            ids, mean, matrix = (np.load(stem.with_name(f"{stem.name}.{part}.npy"), mmap_mode="r") for part in _PARTS)
        except (OSError, ValueError):
            return None
        return SpaceMatrix(Space.from_id(space_id), np.asarray(ids), matrix, np.asarray(mean))

    def build(self, space_id: str, token: str, shape: tuple[int, int], blocks: Iterable[tuple[np.ndarray, np.ndarray]],
              *, float16: bool = False, writable: bool = True, notes: list[str] | None = None) -> SpaceMatrix:
        """Fill the matrix of ``shape`` from ``blocks`` (entry ids, float32 rows, in entry order) and
        cache it. ``float16``: the registry stores float16, so a large copy stays float16
        (float32 is ~4x faster to scan; float16 only where a float32 copy would be larger than
        ``ZOO_RANK_CACHE_F32_MAX`` bytes, 4 GiB by default). What the
        user should hear (no room to cache) is appended to ``notes`` when ``writable``."""
        notes = notes if notes is not None else []
        count, dim = shape
        stem = self.matrix_stem(space_id, token)
        f32_max = settings.cache_f32_max()
        dtype = np.float16 if float16 and count * dim * 4 > f32_max else np.float32
        ids = np.empty(count, dtype=np.int64)
        matrix, scratch = _matrix_file(stem, shape, dtype)
        if scratch is None and count and writable:
            notes.append(f"{stem.parent}: no room to cache the {space_id} matrix; ranked from memory "
                         "(slower next time; free some disk space)")
        total = np.zeros(dim, np.float64)
        start = 0
        try:
            for block_ids, block in blocks:
                ids[start : start + len(block)] = block_ids
                matrix[start : start + len(block)] = block
                total += block.sum(axis=0, dtype=np.float64)
                start += len(block)
        except BaseException:  # Ctrl-C included: no temporary file outlives the command
            if scratch is not None:
                del matrix
                scratch.unlink(missing_ok=True)
            raise
        mean = (total / max(count, 1)).astype(np.float32)
        if not _store_cached(stem, (ids, matrix, mean), scratch) and scratch is not None and writable:
            notes.append(f"{stem.parent}: the ranking cache could not be written; ranked from memory")
        return SpaceMatrix(Space.from_id(space_id), ids, matrix, mean)

    def store_index(self, path: Path, write: Callable[[str], None]) -> None:
        """Put an index file in place atomically (``write(temporary path)`` writes it), after
        deleting the space's older generations; a read-only or full disk only costs a rebuild."""
        path.parent.mkdir(parents=True, exist_ok=True)
        drop_older_generations(path.parent, ".".join(path.name.split(".")[:2]))
        _replace_atomically(path, write)


def _replace_atomically(path: Path, write: Callable[[str], None]) -> None:
    """``write(temporary path)`` beside ``path``, then move it into place: readers see the old
    file or the whole new one, and a failed write leaves no temporary file behind."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def drop_older_generations(folder: Path, current: str) -> None:
    """Delete a space's derived files of other generations (``current`` is ``<stem>.g<generation>``),
    and temporary files a killed process left behind (an hour old: no live writer still owns them)."""
    stem = current.rsplit(".g", 1)[0]
    for old in folder.glob(f"{stem}.g*"):
        if not old.name.startswith(current + "."):
            old.unlink(missing_ok=True)
    for stale in folder.glob("tmp*.tmp"):
        try:
            if time.time() - stale.stat().st_mtime > STALE_TEMP_SECONDS:
                stale.unlink()
        except OSError:
            pass


def _matrix_file(stem: Path, shape: tuple[int, int], dtype) -> tuple[np.ndarray, Path | None]:
    """The cache matrix to fill: a temporary ``.npy`` memory map beside the cache (a space larger
    than memory never has to fit in it), or an array in memory where nothing can be written.

    The file's blocks are allocated before it is mapped: a sparse file on a full disk maps fine
    and then kills the process with SIGBUS at the first page that cannot be stored.
    """
    if not shape[0]:
        return np.empty(shape, dtype=dtype), None
    tmp = None
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=stem.parent, suffix=".npy.tmp")
        try:
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
            with os.fdopen(os.dup(fd), "wb") as handle:
                np.lib.format.write_array_header_1_0(handle, header)
                offset = handle.tell()
            os.posix_fallocate(fd, 0, offset + int(np.prod(shape)) * np.dtype(dtype).itemsize)
        finally:
            os.close(fd)
        return np.lib.format.open_memmap(tmp, mode="r+"), Path(tmp)
    except (OSError, ValueError):
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return np.empty(shape, dtype=dtype), None


def _save_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as handle:  # np.save given a name would add ".npy" to the temporary one
        np.save(handle, array)


def _store_cached(stem: Path, arrays: tuple, scratch: Path | None = None) -> bool:
    """Write the cache atomically; a read-only or full disk only costs speed next time (False).
    ``scratch``: the matrix was built in this memory-mapped file; it is moved into place."""
    named = dict(zip(("ids", "matrix", "mean"), arrays))
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
        drop_older_generations(stem.parent, stem.name)
        for part in _PARTS:
            if part == "matrix" and scratch is not None:
                named[part].flush()
                os.replace(scratch, stem.with_name(f"{stem.name}.matrix.npy"))
                continue
            _replace_atomically(stem.with_name(f"{stem.name}.{part}.npy"), partial(_save_npy, array=named[part]))
        return True
    except OSError:
        return False
    finally:
        if scratch is not None:
            scratch.unlink(missing_ok=True)
