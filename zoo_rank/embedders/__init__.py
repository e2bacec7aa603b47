"""Embedders: ``AdapterWeights`` → ``TaskEmbedding``.

* ``invariant`` (default): rank-, alpha-, factorisation- and permutation-invariant sketches,
  for adapters trained by different people (``invariant.py``, method views in ``views.py``).
* ``tupate``: the paper's raw layer-averaged parameters (``tupate.py``).
* ``behaviour``: the change an adapter makes to the base model's hidden states on a shipped
  probe set; one space for every method of a base model (``behaviour/``; needs torch and the
  base model, so it runs on demand: ``zoo-rank embed``).
"""

from __future__ import annotations

from ..errors import ZooRankError
from ..plugins import EMBEDDER_GROUP, load
from ..weights import AdapterWeights, canonical_base_model
from ..spaces import Space, TaskEmbedding, cosine
from .behaviour import BehaviourEmbedder
from .invariant import InvariantEmbedder
from .tupate import TupateEmbedder

EMBEDDERS = {"invariant": InvariantEmbedder(), "tupate": TupateEmbedder(), "behaviour": BehaviourEmbedder()}
DEFAULT_EMBEDDER = "invariant"


def _plugin_embedder(name: str, found: object) -> object:
    """An embedder from another package (``zoo_rank.plugins``): a class is instantiated."""
    embedder = found() if isinstance(found, type) else found
    if getattr(embedder, "name", None) != name or not isinstance(getattr(embedder, "version", None), int) \
            or not callable(getattr(embedder, "embed", None)):
        raise ValueError(f"an embedder needs name == {name!r}, an int version and embed(weights, base_model=None)")
    if name in EMBEDDERS:
        raise ValueError(f"the name {name!r} is zoo-rank's own embedder")
    return embedder


_plugins_loaded = False


def all_embedders() -> dict:
    """``EMBEDDERS`` with the embedders of installed plugin packages (``zoo_rank.plugins``) added on
    first use: after import, so that a plugin may import zoo-rank's own modules."""
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        EMBEDDERS.update(load(EMBEDDER_GROUP, _plugin_embedder))
    return EMBEDDERS

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
        raise ZooRankError(f"unknown embedder {name!r}", hint=f"choose one of: {', '.join(EMBEDDERS)}") from None


def embed(weights: AdapterWeights, embedder: str = DEFAULT_EMBEDDER, *, base_model: str | None = None) -> TaskEmbedding:
    """Embed one checkpoint's weights with the named embedder. ``base_model`` (default: the one the
    checkpoint names) is taken in its canonical spelling, whoever passes it (a catalog's
    ``bert-base-uncased`` and a config's ``google-bert/bert-base-uncased`` are one space)."""
    chosen = get_embedder(embedder)
    weights.check_finite()
    return chosen.embed(weights, base_model=canonical_base_model(base_model))
