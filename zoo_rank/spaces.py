"""Spaces and task embeddings: what makes two vectors comparable, and the vectors themselves."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import SpaceMismatchError


@dataclass(frozen=True)
class Space:
    """Everything two vectors must share for their cosine to mean something.

    ``layout`` is set only by embedders whose dimensions depend on which modules were tuned
    (``tupate``); the invariant embedder has one fixed dimension per space.
    """

    base_model: str
    family: str
    embedder: str
    version: int
    dim: int
    layout: str | None = None

    @property
    def id(self) -> str:
        parts = [self.base_model, self.family, f"{self.embedder}-v{self.version}", f"d{self.dim}"]
        if self.layout:
            parts.append(self.layout)
        return "|".join(parts)

    @property
    def label(self) -> str:
        layout = f" [{self.layout}]" if self.layout else ""
        return f"{self.base_model} · {self.family} · {self.embedder}{layout}"

    @classmethod
    def from_id(cls, space_id: str) -> "Space":
        parts = space_id.split("|")
        embedder, _, version = parts[2].rpartition("-v")
        return cls(parts[0], parts[1], embedder, int(version), int(parts[3][1:]), parts[4] if len(parts) > 4 else None)


@dataclass
class TaskEmbedding:
    """A unit-length float32 vector in one space, with where it came from."""

    space: Space
    vector: np.ndarray
    norm: float
    provenance: dict = field(default_factory=dict)


def unit(vector: np.ndarray, what: str) -> tuple[np.ndarray, float]:
    """L2-normalise to float32; a zero or non-finite vector is an error, not a silent NaN."""
    from .errors import CheckpointError

    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm):
        raise CheckpointError(what, "has NaN or infinite weights", hint="the training run diverged; use another checkpoint")
    if norm == 0.0:
        raise CheckpointError(what, "has an all-zero update (untrained adapter?)", hint="use a trained checkpoint")
    return (vector / norm).astype(np.float32), norm


def cosine(a: TaskEmbedding, b: TaskEmbedding) -> float:
    """Cosine similarity; refuses to compare embeddings from different spaces."""
    if a.space != b.space:
        raise SpaceMismatchError(
            f"cannot compare embeddings from different spaces: {a.space.label} vs {b.space.label}",
            hint="compare adapters of the same base model and method family, with the same embedder",
        )
    return float(np.dot(a.vector, b.vector))
