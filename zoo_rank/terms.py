"""The terms a family's invariant view is made of, which the invariant embedder sketches:
``LowRank(key, U, V)`` stands for the matrix U Vᵀ, ``Vec(key, x)`` for a vector. Terms with the
same key are summed over layers (TuPaTE's layer average, up to a constant cosine ignores)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # families import this module, and the CLI's --help imports the families: no numpy there
    import numpy as np


@dataclass
class LowRank:
    key: str
    u: np.ndarray  # out × k
    v: np.ndarray  # in × k


@dataclass
class Vec:
    key: str
    x: np.ndarray


Term = LowRank | Vec
