"""What the measurements can conclude: intervals, paired comparisons, separability, reliability.

A mean ρ over 8 or 10 targets moves by more than a position when one target changes, so every
comparison in the report carries an interval, and the word "not significant" where the
interval covers zero. Plain numpy and the standard library (no scipy): the evaluation reruns
anywhere from the committed files.

* ``bootstrap_mean``: percentile bootstrap interval of a mean over targets.
* ``paired_bootstrap``: the same for the mean difference of two methods on the same targets
  (resampling targets keeps each target's pair together), with a two-sided bootstrap p.
* ``sign_flip``: the exact paired permutation test of a mean difference over targets (every
  assignment of signs to the per-target differences), and ``holm``: Holm's correction of the
  p-values of the comparisons one table makes.
* ``paired_t``: Student's paired t-test (e.g. best source vs runner-up over seeds).
* ``split_half``: how well two halves of the seeds agree on the gain matrix (Spearman–Brown).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

RESAMPLES = 10_000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.mean:.2f} [{self.low:.2f}, {self.high:.2f}]"


@dataclass(frozen=True)
class Comparison:
    """Mean of a − b over paired units, its interval, and a two-sided bootstrap p-value."""

    difference: Interval
    p: float
    units: int

    @property
    def significant(self) -> bool:
        return not self.difference.covers(0.0)

    def verdict(self) -> str:
        return "significant" if self.significant else "not significant"


def _resample_means(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    return values[picks].mean(axis=1)


def bootstrap_mean(values: Sequence[float], *, resamples: int = RESAMPLES, seed: int = 0,
                   level: float = LEVEL) -> Interval:
    """Percentile bootstrap interval of the mean (seeded: the report reproduces byte for byte)."""
    data = np.asarray(values, dtype=float)
    if len(data) == 0:
        return Interval(math.nan, math.nan, math.nan)
    means = _resample_means(data, resamples, seed)
    tail = (1 - level) / 2
    return Interval(float(data.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail)))


def paired_bootstrap(a: Mapping[str, float], b: Mapping[str, float], *, resamples: int = RESAMPLES, seed: int = 0,
                     level: float = LEVEL) -> Comparison:
    """a − b over the units (targets) both have, resampled as pairs."""
    units = sorted(set(a) & set(b))
    differences = np.array([a[u] - b[u] for u in units], dtype=float)
    interval = bootstrap_mean(differences, resamples=resamples, seed=seed, level=level)
    if not units:
        return Comparison(interval, math.nan, 0)
    means = _resample_means(differences, resamples, seed)
    if np.all(differences == differences[0]):  # no spread: the difference is what it is
        p = 1.0 if differences[0] == 0 else 0.0
    else:
        p = min(1.0, 2 * min(float(np.mean(means <= 0)), float(np.mean(means >= 0))))
    return Comparison(interval, p, len(units))


EXACT_UP_TO = 22  # targets: 2^22 sign assignments; beyond, a seeded sample of them


def sign_flip(a: Mapping[str, float], b: Mapping[str, float], *, samples: int = 200_000, seed: int = 0) -> float:
    """Two-sided p of the mean of a − b over the units both have, under the null that each unit's
    difference is as likely to have either sign: the share of sign assignments whose mean is at
    least as far from 0 as the observed one. Exact (all 2^n) up to ``EXACT_UP_TO`` units, so with
    n units it cannot go below 2 / 2^n: with 4 targets that differ, nothing is below 0.125."""
    units = sorted(set(a) & set(b))
    differences = np.array([a[u] - b[u] for u in units], dtype=float)
    differences = differences[differences != 0]  # a unit without a difference is the same under either sign
    n = len(differences)
    if n == 0:
        return 1.0
    observed = abs(differences.sum())
    tolerance = 1e-9 * max(1.0, float(np.abs(differences).sum()))
    if n <= EXACT_UP_TO:
        extreme, total = 0, 1 << n
        for start in range(0, total, 1 << 16):
            codes = np.arange(start, min(total, start + (1 << 16)), dtype=np.int64)
            signs = 1 - 2 * ((codes[:, None] >> np.arange(n)) & 1)
            extreme += int(np.sum(np.abs(signs @ differences) >= observed - tolerance))
        return extreme / total
    signs = np.random.default_rng(seed).choice((-1.0, 1.0), size=(samples, n))
    return (1 + int(np.sum(np.abs(signs @ differences) >= observed - tolerance))) / (samples + 1)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the family-wise error over every
    comparison of one table stays at the level each adjusted p is compared with."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


ALPHA = 0.05


def tested_pairs(pairs: Sequence[tuple[Mapping[str, float], Mapping[str, float]]]) -> list[tuple[float, float, float]]:
    """(mean difference a − b, exact sign-flip p, Holm-adjusted p) for each pair of per-target
    values: the comparisons of one table, corrected together."""
    raw = [sign_flip(a, b) for a, b in pairs]
    means = []
    for a, b in pairs:
        units = set(a) & set(b)
        means.append(sum(a[u] - b[u] for u in units) / max(1, len(units)))
    return list(zip(means, raw, holm(raw)))


def verdict_cell(mean: float, p: float, adjusted: float) -> str:
    """A paired difference, its exact p and its Holm-adjusted p; significant (adjusted p < ALPHA) in bold."""
    verdict = "**significant**" if adjusted < ALPHA else "not significant"
    return f"{mean:+.2f} (p {p:.3f}, Holm {adjusted:.3f}) {verdict}"


def paired_t(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(t, two-sided p) of Student's paired t-test of a against b; p is nan below two pairs."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(d)
    if n < 2:
        return math.nan, math.nan
    sd = float(np.std(d, ddof=1))
    if sd == 0:
        return (math.inf if d.mean() > 0 else -math.inf if d.mean() < 0 else 0.0), (0.0 if d.mean() else 1.0)
    t = float(d.mean() / (sd / math.sqrt(n)))
    return t, student_t_two_sided(t, n - 1)


def student_t_two_sided(t: float, df: int) -> float:
    """P(|T| ≥ |t|) for Student's t with ``df`` degrees of freedom: I_{df/(df+t²)}(df/2, 1/2)."""
    return _incomplete_beta(df / 2, 0.5, df / (df + t * t))


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), by its continued fraction (Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast only on this side
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-14:
            break
    return front * result / a


def split_half(per_seed: Mapping[tuple[str, str], Mapping[int, float]], seeds: Sequence[int]) -> float:
    """Spearman–Brown corrected correlation of the cell means measured on two halves of the seeds,
    averaged over every split (for 3 seeds: each seed against the other two). 1 is a perfectly
    repeatable matrix; nan with fewer than two seeds."""
    seeds = sorted(seeds)
    if len(seeds) < 2:
        return math.nan
    cells = [c for c, values in per_seed.items() if all(s in values for s in seeds)]
    estimates = []
    for size in range(1, len(seeds) // 2 + 1):
        for half in itertools.combinations(seeds, size):
            other = [s for s in seeds if s not in half]
            x = [float(np.mean([per_seed[c][s] for s in half])) for c in cells]
            y = [float(np.mean([per_seed[c][s] for s in other])) for c in cells]
            if len(cells) > 2 and np.std(x) > 0 and np.std(y) > 0:
                r = float(np.corrcoef(x, y)[0, 1])
                estimates.append(2 * r / (1 + r) if r > -1 else -1.0)
    return float(np.mean(estimates)) if estimates else math.nan
