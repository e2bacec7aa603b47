"""The one scorer: cosine and centred cosine of task embeddings, and the method ensemble.

The ranker (``zoo-rank --target``), the faiss shortlist's exact re-scoring and the
evaluation (``bench predict``) all score through here, so the published rank correlations
measure the code that ranks for users. numpy only.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

_BLOCK = 65_536


def cosines(matrix: np.ndarray, target: np.ndarray, mean: np.ndarray | None = None, *,
            unit: bool = True) -> np.ndarray:
    """Cosine of each row of ``matrix`` with ``target``; with ``mean``, of both after
    subtracting it (centred cosine).

    ``unit``: rows and target are unit vectors (registry vectors are), so a raw cosine is the
    dot product and centred norms follow from two dot products: the matrix is read once.
    Otherwise (Fisher or text vectors in the evaluation) the norms are computed.
    """
    t = np.asarray(target, dtype=np.float32)
    columns = t[:, None] if mean is None else np.stack([t, np.asarray(mean, np.float32)], axis=1)
    both = _product(matrix, columns)
    if unit:
        if mean is None:
            return both[:, 0]
        row_sq, t_sq = 1.0, 1.0
    else:
        row_sq = np.concatenate([np.square(np.asarray(matrix[i : i + _BLOCK], np.float64)).sum(axis=1)
                                 for i in range(0, len(matrix), _BLOCK)] or [np.empty(0)])
        t_sq = float(t.astype(np.float64) @ t)
    if mean is None:
        return (both[:, 0] / np.sqrt(np.maximum(row_sq * t_sq, 1e-24))).astype(np.float32)
    mu = columns[:, 1]
    mu_mu, t_mu = float(mu @ mu), float(t @ mu)
    t_norm = np.sqrt(max(t_sq - 2 * t_mu + mu_mu, 1e-12))
    c_norm = np.sqrt(np.maximum(row_sq - 2 * both[:, 1] + mu_mu, 1e-12))
    return ((both[:, 0] - both[:, 1] - t_mu + mu_mu) / (t_norm * c_norm)).astype(np.float32)


def _product(matrix: np.ndarray, columns: np.ndarray) -> np.ndarray:
    if matrix.dtype == np.float32:
        return matrix @ columns
    # float16 storage (or float64 from callers): no fast float16 product in numpy; convert a block at a time
    return np.concatenate([np.asarray(matrix[i : i + _BLOCK], np.float32) @ columns
                           for i in range(0, len(matrix), _BLOCK)] or [np.empty((0, columns.shape[1]), np.float32)])


def ensemble(per_method: Mapping[str, float]) -> float:
    """The paper's ensemble: the mean of a candidate's per-method scores (over the methods
    that scored it). Only for candidates that all have the same methods: otherwise see
    ``ensemble_on_one_scale``."""
    return float(np.mean(list(per_method.values())))


def method_levels(per_candidate: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Each method's mean score over the candidates that have it: what 'an average candidate'
    scores in that method's space (raw prefix cosines sit near 0.98, LoRA's near 0.05)."""
    sums: dict[str, list[float]] = {}
    for scores in per_candidate.values():
        for method, score in scores.items():
            sums.setdefault(method, []).append(score)
    return {method: float(np.mean(values)) for method, values in sums.items()}


def ensemble_on_one_scale(
        per_candidate: Mapping[str, Mapping[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """(score per candidate, level per method): each candidate's mean, over the methods it has,
    of its score minus that method's level (``method_levels``).

    Raw cosines of different methods sit at different levels, so a mean over whichever methods
    a candidate happens to have ranks it by which methods it has: a BitFit-only candidate is sunk
    below every candidate with a prefix cosine of 0.98. Measured from each method's level, 0 is
    an average candidate in every method, whatever methods it has. For candidates that all have
    the same methods this orders exactly as the paper's mean of cosines (a constant per method
    changes no order), so the evaluated ensemble is unchanged (docs/method.md, "One scale")."""
    levels = method_levels(per_candidate)
    scores = {name: float(np.mean([s - levels[m] for m, s in by_method.items()]))
              for name, by_method in per_candidate.items()}
    return scores, levels


def mean_excluding(vectors: Mapping[str, np.ndarray], left_out: Iterable[str]) -> np.ndarray:
    """The centre for centred cosines, wherever they are computed (the ranker through
    ``centre_without``, the evaluation here): the mean of the candidates' vectors, leaving out the
    target's own (its own source embedding would pull the centre towards the target)."""
    skip = set(left_out)
    kept = [v for name, v in vectors.items() if name not in skip]
    return np.mean(np.stack(kept), axis=0)


def centre_without(mean: np.ndarray, count: int, left_out: np.ndarray) -> np.ndarray:
    """``mean_excluding`` for a space held as the mean of its ``count`` vectors: the same centre,
    the ``left_out`` rows (the target's own entries) taken back out."""
    if not len(left_out) or count <= len(left_out):
        return mean
    total = np.asarray(mean, np.float64) * count - np.asarray(left_out, np.float64).sum(axis=0)
    return (total / (count - len(left_out))).astype(np.float32)
