"""Seeded sketches that map tensors of any shape into one fixed-size vector space.

A count sketch maps a vector x to D dimensions; a degree-2 TensorSketch (Pham & Pagh 2013)
maps a matrix dW = U Vᵀ to D dimensions straight from its factors, in O(k·(n + D log D)),
without forming dW. Both are linear and both preserve inner products in expectation, so:

* ⟨sketch(dW₁), sketch(dW₂)⟩ ≈ ⟨dW₁, dW₂⟩_F, with error O(‖dW₁‖‖dW₂‖/√D);
* sketch(dW) depends only on dW: any rank, any factorisation (A, B) → (MA, BM⁻¹), any
  zero-padding of the rank gives the same vector, up to float rounding;
* each (key, shape) gets its own hash functions, so sketches of different modules are
  near-orthogonal and summing them approximates concatenation — with a fixed dimension,
  whichever modules an adapter happens to tune (an untouched module contributes zero).
"""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache

import numpy as np


class Sketcher:
    """Count sketch and TensorSketch with hash functions derived from (salt, key, size)."""

    def __init__(self, dim: int, salt: str) -> None:
        self.dim = dim
        self.salt = salt
        self._local = threading.local()

    @lru_cache(maxsize=4096)
    def _hashes(self, key: str, size: int, which: int) -> tuple[np.ndarray, np.ndarray]:
        digest = hashlib.sha256(f"{self.salt}\0{key}\0{size}\0{which}".encode()).digest()
        rng = np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "little")))
        buckets = rng.integers(0, self.dim, size=size, dtype=np.int64)
        signs = rng.integers(0, 2, size=size).astype(np.float64) * 2 - 1
        return buckets, signs

    def vector(self, key: str, x: np.ndarray) -> np.ndarray:
        """Count sketch of a 1-D vector."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        buckets, signs = self._hashes(key, x.size, 0)
        return np.bincount(buckets, weights=signs * x, minlength=self.dim)

    def _buffers(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-thread work arrays, reused: fresh multi-MB temporaries cost more in page faults
        than the FFTs themselves."""
        local = self._local
        if getattr(local, "k", 0) < k:
            local.k = max(k, 2 * getattr(local, "k", 0), 16)
            local.real = np.empty((local.k, self.dim))
            local.left = np.empty((local.k, self.dim // 2 + 1), dtype=np.complex128)
            local.right = np.empty_like(local.left)
        return local.real[:k], local.left[:k], local.right[:k]

    def _column_spectra(self, key: str, factor: np.ndarray, which: int, real: np.ndarray, out: np.ndarray) -> None:
        """FFT of the count sketch of each column of ``factor`` (n × k), into ``out`` (k × D/2+1)."""
        buckets, signs = self._hashes(key, factor.shape[0], which)
        weighted = signs[:, None] * factor
        for column in range(factor.shape[1]):  # one bincount per column: the sums of np.add.at, ~10x faster
            real[column] = np.bincount(buckets, weights=weighted[:, column], minlength=self.dim)
        np.fft.rfft(real, axis=1, out=out)

    def low_rank(self, key: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """TensorSketch of the matrix U Vᵀ (U: out × k, V: in × k)."""
        u = np.asarray(u, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        real, left, right = self._buffers(u.shape[1])
        self._column_spectra(key, u, 1, real, left)
        self._column_spectra(key, v, 2, real, right)
        np.multiply(left, right, out=left)
        return np.fft.irfft(left.sum(axis=0), n=self.dim)
