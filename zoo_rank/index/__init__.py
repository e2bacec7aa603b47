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
from ..plugins import installed, own



class IndexBackend(Protocol):
    """Shortlists a space's vectors for a query; the ranker re-scores the shortlist exactly, so a
    backend decides who is considered, never the scores shown."""

    def shortlist(self, registry, space_id: str, query: np.ndarray, limit: int,
                  centred: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """(entry ids of up to ``limit`` vectors nearest to ``query``, the mean it centred on or None)."""


FAISS_KINDS = ("faiss-flat", "faiss-ivf")  # faiss_index.py builds them


class FaissBackend:
    """faiss-flat and faiss-ivf (``faiss_index.py``), built on first use and kept beside the registry."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def shortlist(self, registry, space_id, query, limit, centred):
        from .faiss_index import open_index

        index = open_index(registry, space_id, self.kind, centred=centred)
        found, _ = index.search(query, limit)
        return found, index.mean


def register_index_backends(register) -> None:
    """zoo-rank's own shortlisting backends, registered as a plugin's are
    (``hookspecs.register_index_backends``). numpy's exact scan is not one: it scores every vector."""
    for kind in FAISS_KINDS:
        register(kind, FaissBackend(kind))


def _backend(name: str, backend: object) -> tuple[str, IndexBackend]:
    backend = backend() if isinstance(backend, type) else backend
    if not callable(getattr(backend, "shortlist", None)):
        raise ValueError("has no shortlist(registry, space_id, query, limit, centred)")
    return name, backend


_OWN: dict[str, IndexBackend] = own(register_index_backends, _backend)
BACKENDS = ("auto", "numpy", *_OWN)  # zoo-rank's own; backend_names() adds plugins


@lru_cache(maxsize=1)  # the plugins' hooks run once a process
def backends() -> dict[str, IndexBackend]:
    """The shortlisting backends: faiss's two and those of installed plugins
    (``register_index_backends``: an object with ``shortlist``)."""
    return {**_OWN, **dict(installed("register_index_backends", _backend, BACKENDS))}


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
