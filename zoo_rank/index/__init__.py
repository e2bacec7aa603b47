"""Searching a space: numpy's exact scan, or faiss past a size (``pip install 'zoo-rank[faiss]'``).

``auto`` scans with numpy below ``ZOO_RANK_FAISS_MIN`` vectors (default 100,000) and uses
``faiss-ivf`` from there when faiss is installed. A faiss search returns a shortlist
(``ZOO_RANK_SHORTLIST``, default 1,000), which the ranker re-scores exactly from the
registry's vectors: faiss chooses who is considered, never the scores shown. See
``faiss_index.py`` for the indexes and ``docs/scale.md`` for their measured latency, memory
and recall@10.
"""

from __future__ import annotations

import os

from ..errors import ZooRankError

BACKENDS = ("auto", "numpy", "faiss-flat", "faiss-ivf")


def shortlist_size() -> int:
    """How many candidates a faiss index hands to exact re-scoring (at least; 10 × top if more).
    Re-scoring 1,000 vectors costs milliseconds and buys recall where many candidates are
    nearly tied (docs/scale.md)."""
    return int(os.environ.get("ZOO_RANK_SHORTLIST", "1000"))


def faiss_min() -> int:
    return int(os.environ.get("ZOO_RANK_FAISS_MIN", "100000"))


def choose_backend(name: str, count: int) -> str:
    """The backend that ``name`` means for a space of ``count`` vectors."""
    if name not in BACKENDS:
        raise ZooRankError(f"unknown index {name!r}", hint=f"choose one of: {', '.join(BACKENDS)}")
    if name != "auto":
        return name
    if count < faiss_min():
        return "numpy"
    try:
        import faiss  # noqa: F401
    except ImportError:
        return "numpy"
    return "faiss-ivf"
