"""A seeded, documented projection from a space's dimension down to the index dimension.

Each input coordinate goes, with a random sign, into one of ``dim_out`` buckets of equal
size (a count sketch with balanced buckets): ⟨Px, Py⟩ = ⟨x, y⟩ in expectation, with an
error of order ‖x‖‖y‖/√dim_out. It is only used to *shortlist* candidates; their final
scores are recomputed from the full vectors, so the projection costs recall, never accuracy.
"""

from __future__ import annotations

import numpy as np


class Projection:
    def __init__(self, dim_in: int, dim_out: int, seed: int = 0) -> None:
        if dim_out >= dim_in:
            raise ValueError("a projection must reduce the dimension")
        self.dim_in, self.dim_out = dim_in, dim_out
        self.width = -(-dim_in // dim_out)  # input coordinates per bucket (the last may be padded)
        rng = np.random.Generator(np.random.PCG64(seed))
        self.order = rng.permutation(dim_out * self.width)
        self.signs = rng.choice(np.array([-1.0, 1.0], np.float32), size=dim_out * self.width)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Project rows of ``x`` (n × dim_in) and scale each to unit length (for cosine search)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        padded = np.zeros((len(x), self.dim_out * self.width), np.float32)
        padded[:, : self.dim_in] = x
        out = (padded[:, self.order] * self.signs).reshape(len(x), self.dim_out, self.width).sum(axis=2)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out
