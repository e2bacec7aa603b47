"""Searching a space: numpy's exact scan, or faiss past a size (``pip install 'zoo-rank[faiss]'``).

``auto`` scans with numpy below ``ZOO_RANK_FAISS_MIN`` vectors (default 100,000) and uses
``faiss-ivf`` from there when faiss is installed. A faiss search returns a shortlist
(``ZOO_RANK_SHORTLIST``, default 1,000), which the ranker re-scores exactly from the
registry's vectors: faiss chooses who is considered, never the scores shown. See
``faiss_index.py`` for the indexes and ``docs/scale.md`` for their measured latency, memory
and recall@10.
"""

from __future__ import annotations


from functools import lru_cache
from typing import Protocol

import numpy as np

from .. import settings
from ..errors import ZooRankError

BACKENDS = ("auto", "numpy", "faiss-flat", "faiss-ivf")  # zoo-rank's own; backend_names() adds plugins
BACKEND_GROUP = "zoo_rank.index_backends"


class IndexBackend(Protocol):
    """Shortlists a space's vectors for a query; the ranker re-scores the shortlist exactly, so a
    backend decides who is considered, never the scores shown."""

    def shortlist(self, registry, space_id: str, query: np.ndarray, limit: int,
                  centred: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """(entry ids of up to ``limit`` vectors nearest to ``query``, the mean it centred on or None)."""


class FaissBackend:
    """faiss-flat and faiss-ivf (``faiss_index.py``), built on first use and kept beside the registry."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def shortlist(self, registry, space_id, query, limit, centred):
        from .faiss_index import open_index

        index = open_index(registry, space_id, self.kind, centred=centred)
        found, _ = index.search(query, limit)
        return found, index.mean


@lru_cache(maxsize=1)  # the entry-point scan reads every installed distribution: once a process
def backends() -> dict[str, IndexBackend]:
    """The shortlisting backends: faiss's two and those of installed packages (entry-point group
    ``zoo_rank.index_backends``: an object with ``shortlist``). numpy's exact scan is not one:
    it scores every vector."""
    from ..plugins import load

    own = {kind: FaissBackend(kind) for kind in ("faiss-flat", "faiss-ivf")}

    def check(name: str, backend: object) -> IndexBackend:
        backend = backend() if isinstance(backend, type) else backend
        if name in BACKENDS:
            raise ValueError(f"{name!r} is zoo-rank's own")
        if not callable(getattr(backend, "shortlist", None)):
            raise ValueError("has no shortlist(registry, space_id, query, limit, centred)")
        return backend

    return {**own, **dict(load(BACKEND_GROUP, check))}


def backend_names() -> tuple[str, ...]:
    """What `--index` accepts."""
    return ("auto", "numpy", *backends())


def shortlist_size() -> int:
    """How many candidates a faiss index hands to exact re-scoring (at least; 10 × top if more).
    Re-scoring 1,000 vectors costs milliseconds and buys recall where many candidates are
    nearly tied (docs/scale.md)."""
    return settings.shortlist()


def faiss_min() -> int:
    return settings.faiss_min()


def choose_backend(name: str, count: int) -> str:
    """The backend that ``name`` means for a space of ``count`` vectors."""
    if name not in BACKENDS and name not in backends():
        raise ZooRankError(f"unknown index {name!r}", hint=f"choose one of: {', '.join(backend_names())}")
    if name != "auto":
        return name
    if count < faiss_min():
        return "numpy"
    try:
        import faiss  # noqa: F401
    except ImportError:
        return "numpy"
    return "faiss-ivf"
