"""Embedders: ``AdapterWeights`` → ``TaskEmbedding``.

* ``invariant`` (default): rank-, alpha-, factorisation- and permutation-invariant sketches,
  for adapters trained by different people (``invariant.py``, method views in ``views.py``).
* ``tupate``: the paper's raw layer-averaged parameters (``tupate.py``).
"""

from __future__ import annotations

from ..errors import ZooRankError
from ..weights import AdapterWeights
from .base import Space, TaskEmbedding, cosine
from .invariant import InvariantEmbedder
from .tupate import TupateEmbedder

EMBEDDERS = {"invariant": InvariantEmbedder(), "tupate": TupateEmbedder()}
DEFAULT_EMBEDDER = "invariant"

__all__ = ["EMBEDDERS", "DEFAULT_EMBEDDER", "Space", "TaskEmbedding", "cosine", "embed", "get_embedder"]


def get_embedder(name: str):
    try:
        return EMBEDDERS[name]
    except KeyError:
        raise ZooRankError(f"unknown embedder {name!r}", hint=f"choose one of: {', '.join(EMBEDDERS)}") from None


def embed(weights: AdapterWeights, embedder: str = DEFAULT_EMBEDDER, *, base_model: str | None = None) -> TaskEmbedding:
    """Embed one checkpoint's weights with the named embedder."""
    chosen = get_embedder(embedder)
    weights.check_finite()
    return chosen.embed(weights, base_model=base_model)
