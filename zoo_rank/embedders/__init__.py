"""Embedders: ``AdapterWeights`` → ``TaskEmbedding``.

* ``invariant`` (default): rank-, alpha-, factorisation- and permutation-invariant sketches,
  for adapters trained by different people (``invariant.py``, method views in ``views.py``).
* ``tupate``: the paper's raw layer-averaged parameters (``tupate.py``).
* ``behaviour``: the change an adapter makes to the base model's hidden states on a shipped
  probe set; one space for every method of a base model (``behaviour/``; needs torch and the
  base model, so it runs on demand: ``zoo-rank embed``).
"""

from __future__ import annotations

from functools import lru_cache

from ..errors import ZooRankError
from ..plugins import installed, own
from ..weights import AdapterWeights, canonical_base_model
from ..spaces import Space, TaskEmbedding, cosine
from .behaviour import BehaviourEmbedder
from .invariant import InvariantEmbedder
from .tupate import TupateEmbedder

DEFAULT_EMBEDDER = "invariant"


def register_embedders(register) -> None:
    """zoo-rank's own embedders, registered as a plugin's are (``hookspecs.register_embedders``)."""
    register(InvariantEmbedder())
    register(TupateEmbedder())
    register(BehaviourEmbedder())


def _embedder(found: object) -> tuple[str, object]:
    """A registered embedder, checked (a class is instantiated)."""
    embedder = found() if isinstance(found, type) else found
    name = getattr(embedder, "name", None)
    if not isinstance(name, str) or not isinstance(getattr(embedder, "version", None), int) \
            or not callable(getattr(embedder, "embed", None)):
        raise ValueError("an embedder needs a name, an int version and embed(weights, base_model=None)")
    return name, embedder


EMBEDDERS: dict = own(register_embedders, _embedder)  # zoo-rank's own; all_embedders() adds plugins'


@lru_cache(maxsize=1)
def all_embedders() -> dict:
    """``EMBEDDERS`` and the embedders of installed plugins (``zoo_rank.plugins``), loaded on first
    use: after import, so that a plugin may import zoo-rank's own modules."""
    return {**EMBEDDERS, **dict(installed("register_embedders", _embedder, EMBEDDERS))}

__all__ = ["EMBEDDERS", "DEFAULT_EMBEDDER", "all_embedders", "Space", "TaskEmbedding", "cosine", "embed", "get_embedder",
           "ingest_embedders"]


def ingest_embedders() -> list[str]:
    """The embedders that run on every add, pull and train: ``$ZOO_RANK_EMBEDDERS`` (comma-separated),
    else those cheap enough to run anywhere (no torch, no base model). The default embedder always
    runs; the others can be added to registered entries later with ``zoo-rank embed``."""
    from ..settings import embedders

    names = embedders() or [name for name, embedder in all_embedders().items() if getattr(embedder, "on_ingest", True)]
    for name in names:
        get_embedder(name)
    return [DEFAULT_EMBEDDER] + [n for n in dict.fromkeys(names) if n != DEFAULT_EMBEDDER]


def get_embedder(name: str):
    try:
        return all_embedders()[name]
    except KeyError:
        raise ZooRankError(f"unknown embedder {name!r}", hint=f"choose one of: {', '.join(all_embedders())}") from None


def embed(weights: AdapterWeights, embedder: str = DEFAULT_EMBEDDER, *, base_model: str | None = None) -> TaskEmbedding:
    """Embed one checkpoint's weights with the named embedder. ``base_model`` (default: the one the
    checkpoint names) is taken in its canonical spelling, whoever passes it (a catalog's
    ``bert-base-uncased`` and a config's ``google-bert/bert-base-uncased`` are one space)."""
    chosen = get_embedder(embedder)
    weights.check_finite()
    return chosen.embed(weights, base_model=canonical_base_model(base_model))
