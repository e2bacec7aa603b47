"""CurveGrad: rank sources by how steeply their training loss still falls.

Bingel and Søgaard (2017) found that multi-task gains are likelier when the auxiliary task's
learning curve has not flattened; Vu et al. (2020) turned this into a source-ranking baseline:
the gradients of the source's fine-tuning loss curve at 10, 20, 30, 50 and 70% of training,
one ranking per point (steepest descent first), merged by reciprocal rank fusion. It ignores
the target, so every target gets the same order of its candidates.

Here the curve is the per-step training loss of the very source fine-tuning ``bench transfer``
ran (seed 0, its settings); the gradient at a point is the least-squares slope of the loss over
the steps within ±10% of training around it, in loss per whole run.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

POINTS = (0.1, 0.2, 0.3, 0.5, 0.7)
WINDOW = 0.1  # half-width of the slope's window, as a fraction of training
RRF_K = 60  # Cormack et al. (2009)


def curve_gradient(losses: Sequence[float], at: float, window: float = WINDOW) -> float:
    """Slope of the loss against the fraction of training done, fitted around ``at``.

    Step i (0-based) of n sits at (i + 1) / n. Fewer than two steps in the window: the two
    steps nearest ``at``. A single step has no slope (0).
    """
    y = np.asarray(losses, dtype=np.float64)
    n = len(y)
    if n < 2:
        return 0.0
    x = (np.arange(n) + 1) / n
    inside = np.flatnonzero(np.abs(x - at) <= window + 1e-12)
    if len(inside) < 2:
        inside = np.argsort(np.abs(x - at), kind="stable")[:2]
    xs, ys = x[inside], y[inside]
    dx = xs - xs.mean()
    return float((dx * (ys - ys.mean())).sum() / (dx * dx).sum())


def _positions(values: Mapping[str, float]) -> dict[str, float]:
    """1-based positions in ascending order of value; tied values share their mean position."""
    ordered = sorted(values, key=lambda name: values[name])
    out: dict[str, float] = {}
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and values[ordered[j + 1]] == values[ordered[i]]:
            j += 1
        for name in ordered[i:j + 1]:
            out[name] = (i + j) / 2 + 1
        i = j + 1
    return out


def reciprocal_rank_fusion(gradients: Mapping[str, Sequence[float]], k: int = RRF_K) -> dict[str, float]:
    """Sum over points of 1 / (k + position), each point ranking the most negative gradient first."""
    names = list(gradients)
    points = len(next(iter(gradients.values()))) if names else 0
    fused = dict.fromkeys(names, 0.0)
    for p in range(points):
        for name, position in _positions({n: gradients[n][p] for n in names}).items():
            fused[name] += 1.0 / (k + position)
    return fused


def curvegrad_scores(curves: Mapping[str, Sequence[float]], tasks: Sequence[str]) -> dict[str, dict[str, float]]:
    """target → source → fused score, the candidates of each target ranked among themselves."""
    gradients = {task: [curve_gradient(curves[task], at) for at in POINTS] for task in tasks}
    return {target: reciprocal_rank_fusion({s: gradients[s] for s in tasks if s != target}) for target in tasks}
