"""The default embedder for adapters found in the wild.

Hub adapters of one base model differ in rank, alpha, target modules and seed. This
embedder sketches each method's invariant view (``views.py``) into one fixed-size space per
(base model, method family): same update → same vector, an untouched module → zero.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..weights import AdapterWeights
from ..spaces import Space, TaskEmbedding, unit
from .sketch import Sketcher
from .views import LowRank, view_of


@lru_cache(maxsize=8)
def _sketcher(dim: int, version: int) -> Sketcher:
    return Sketcher(dim, f"zoo-rank/invariant/v{version}")


class InvariantEmbedder:
    name = "invariant"
    version = 1

    def __init__(self, dim: int = 8192) -> None:
        self.dim = dim

    def embed(self, weights: AdapterWeights, base_model: str | None = None) -> TaskEmbedding:
        low_rank: dict[tuple[str, int, int], list[LowRank]] = {}
        vectors: dict[tuple[str, int], np.ndarray] = {}
        for term in view_of(weights.family)(weights):
            if isinstance(term, LowRank):
                low_rank.setdefault((term.key, len(term.u), len(term.v)), []).append(term)
            else:
                slot = (term.key, term.x.size)
                vectors[slot] = vectors.get(slot, 0.0) + np.asarray(term.x, dtype=np.float64).reshape(-1)
        sketcher = _sketcher(self.dim, self.version)
        total = np.zeros(self.dim)
        for (key, rows, cols), terms in low_rank.items():
            u = np.concatenate([t.u for t in terms], axis=1)
            v = np.concatenate([t.v for t in terms], axis=1)
            total += sketcher.low_rank(f"{key}:{rows}x{cols}", u, v)
        for (key, size), x in vectors.items():
            total += sketcher.vector(f"{key}:{size}", x)
        total /= max(len(weights.layers), 1)  # layer sum -> layer average
        vector, norm = unit(total, str(weights.path))
        space = Space(
            base_model or weights.base_model or weights.arch_fingerprint(),
            weights.family,
            self.name,
            self.version,
            self.dim,
        )
        return TaskEmbedding(space, vector, norm, {"embedder": self.name, "version": self.version,
                                                   "terms": len(low_rank) + len(vectors)})
