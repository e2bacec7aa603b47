"""The measured gain matrix: transfer runs averaged over seeds, with their spread.

Needs only the results file written by ``zoo-rank bench transfer`` (no torch), so the
evaluation can be rerun anywhere from the committed data.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from .metrics import MetricError
from .transfer import Run, read_runs


@dataclass
class Cell:
    """Gain of one source → target pair over seeds (percentage points)."""

    mean: float
    std: float  # sample standard deviation over seeds (0 with one seed)
    seeds: list[int]
    score: float  # mean test score after transfer


@dataclass
class GainMatrix:
    tasks: list[str]
    cells: dict[tuple[str, str], Cell]  # (source, target) → gain
    baseline: dict[str, tuple[float, float]]  # target → (mean, std) of the target-only score
    metric: dict[str, str]
    seeds: list[int]
    provenance: dict = field(default_factory=dict)
    per_seed: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)
    commits: dict[str, int] = field(default_factory=dict)  # git commit → runs made at it, first seen first
    test_sizes: dict[str, int] = field(default_factory=dict)  # target → test examples its runs scored on

    def gains(self, target: str) -> dict[str, float]:
        """Mean gain of every source for ``target``."""
        return {s: c.mean for (s, t), c in self.cells.items() if t == target}

    def scores(self, target: str) -> dict[str, float]:
        """Mean test score after transfer from every source (the "true score" relevance)."""
        return {s: c.score for (s, t), c in self.cells.items() if t == target}

    def partial_seeds(self) -> dict[int, int]:
        """Seeds that have not measured every pair → how many pairs they have. A ground truth still
        being measured averages each pair over the seeds it has, so a report must say so."""
        counts = {seed: sum(seed in v for v in self.per_seed.values()) for seed in self.seeds}
        return {seed: n for seed, n in counts.items() if n < len(self.cells)}

    def seeds_text(self) -> str:
        """'0, 1, 2', or with a seed still running
        "0, 1 (seed 1: 83 of 90 pairs; a pair's gain is the mean over its seeds)"."""
        partial = self.partial_seeds()
        note = "; ".join(f"seed {seed}: {n} of {len(self.cells)} pairs" for seed, n in partial.items())
        return ", ".join(map(str, self.seeds)) + (f" ({note}; a pair's gain is the mean over its seeds)"
                                                   if note else "")

    def seed_gains(self, target: str, seed: int) -> dict[str, float]:
        """Gains of one seed alone (to see how rankings move between seeds)."""
        return {s: v[seed] for (s, t), v in self.per_seed.items() if t == target and seed in v}


def gain_matrix(runs: list[Run], path: str | Path = "results") -> GainMatrix:
    """Average paired gains; every (source, target) pair of the tasks present must be measured."""
    if not runs:
        raise MetricError(f"{path}: holds no transfer runs", hint="run `zoo-rank bench transfer` first")
    baselines: dict[tuple[int, str], float] = {}
    transfers: dict[tuple[int, str, str], float] = {}
    metric: dict[str, str] = {}
    for run in runs:
        metric[run.target] = run.metric
        if run.source is None:
            baselines[(run.seed, run.target)] = run.score
        else:
            transfers[(run.seed, run.source, run.target)] = run.score
    tasks = sorted({t for _, t in baselines} | {s for _, s, _ in transfers} | {t for _, _, t in transfers})
    per_seed: dict[tuple[str, str], dict[int, float]] = {}
    after: dict[tuple[str, str], list[float]] = {}
    for (seed, source, target), score in transfers.items():
        if (seed, target) in baselines:
            per_seed.setdefault((source, target), {})[seed] = score - baselines[(seed, target)]
            after.setdefault((source, target), []).append(score)
    missing = [f"{s}→{t}" for s in tasks for t in tasks if s != t and (s, t) not in per_seed]
    if missing:
        listed = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise MetricError(f"{path}: the gain matrix is missing {len(missing)} pair(s): {listed}",
                          hint="finish them with `zoo-rank bench transfer` (it resumes), or evaluate fewer tasks")
    cells = {pair: Cell(_mean(list(v.values())), _std(list(v.values())), sorted(v), _mean(after[pair]))
             for pair, v in per_seed.items()}
    base = {}
    for target in tasks:
        values = [v for (seed, t), v in baselines.items() if t == target]
        base[target] = (_mean(values), _std(values))
    provenance = runs[-1].provenance
    commits: dict[str, int] = {}
    for run in runs:
        commit = str(run.provenance.get("git_commit"))
        commits[commit] = commits.get(commit, 0) + 1
    sizes = {run.target: run.test_examples for run in runs}
    return GainMatrix(tasks, cells, base, metric, sorted({r.seed for r in runs}), provenance, per_seed, commits, sizes)


def load_gains(path: str | Path, seeds: list[int] | None = None) -> GainMatrix:
    """The gain matrix of a results file; with ``seeds``, of those seeds' runs only (a ground
    truth still being measured can be evaluated on the seeds it has finished)."""
    runs = read_runs(path)
    if seeds:
        present = sorted({run.seed for run in runs})
        absent = [seed for seed in seeds if seed not in present]
        if absent:
            raise MetricError(f"{path}: has no runs of seed {', '.join(map(str, absent))}",
                              hint=f"its seeds are {', '.join(map(str, present)) or 'none'}")
        runs = [run for run in runs if run.seed in seeds]
    return gain_matrix(runs, path)


def write_csv(matrix: GainMatrix, path: str | Path) -> Path:
    """The gain matrix as data: one row per pair, with its spread and seeds (plus baselines)."""
    import csv

    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["source", "target", "metric", "gain_mean", "gain_std", "seeds", "score_after_transfer",
                      "target_only_mean", "target_only_std"])
        for (source, target), cell in sorted(matrix.cells.items()):
            base_mean, base_std = matrix.baseline[target]
            out.writerow([source, target, matrix.metric[target], f"{cell.mean:.4f}", f"{cell.std:.4f}",
                          " ".join(map(str, cell.seeds)), f"{cell.score:.4f}", f"{base_mean:.4f}", f"{base_std:.4f}"])
    return path


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def _std(values: list[float]) -> float:
    """Sample standard deviation over seeds; 0 with one seed."""
    return statistics.stdev(values) if len(values) > 1 else 0.0
