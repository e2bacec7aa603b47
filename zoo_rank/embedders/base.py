"""Kept so that plugins written against zoo-rank 0.1 keep importing: spaces and task
embeddings live in ``zoo_rank.spaces`` (also exported as ``zoo_rank.Space`` and friends)."""

from ..spaces import Space, TaskEmbedding, cosine, unit

__all__ = ["Space", "TaskEmbedding", "cosine", "unit"]
