"""Score every method's predictions against the measured gains: the Table-2 numbers.

No torch: reads the committed results and predictions files only.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from .gains import GainMatrix
from .metrics import MetricError, ndcg, regret_at_k, rho
from .predict import Prediction


@dataclass
class Row:
    """One method's metrics, averaged over targets (per-target values kept for the report)."""

    method: str
    family: str
    rho: float
    ndcg_score: float
    ndcg_rank: float
    regret: dict[int, float]
    seconds_per_embedding: float | None
    per_target: dict[str, dict[str, float]] = field(default_factory=dict)
    cpu_seconds_per_embedding: float | None = None  # where the predictions file measured it
    ndcg_paper: float | None = None  # relevance N − true rank, gain 2^rel − 1: the papers' convention


@dataclass
class Evaluation:
    tasks: list[str]
    targets: list[str]
    rows: list[Row]
    dropped: dict[str, list[str]]  # task → methods (or "gains") that lack it
    ks: tuple[int, ...]


def common_tasks(gains: GainMatrix, predictions: dict[str, Prediction]) -> tuple[list[str], dict[str, list[str]]]:
    """Tasks that the gain matrix and every method cover, and who lacks the others."""
    covered = {"gains": set(gains.tasks)}
    for name, p in predictions.items():
        covered[name] = set(p.scores) | {s for row in p.scores.values() for s in row}
    everything = set().union(*covered.values())
    common = set.intersection(*covered.values())
    dropped = {t: sorted(name for name, tasks in covered.items() if t not in tasks) for t in sorted(everything - common)}
    return sorted(common), dropped


def evaluate(gains: GainMatrix, predictions: dict[str, Prediction], *, targets: list[str] | None = None,
             ks: tuple[int, ...] = (1, 3)) -> Evaluation:
    """ρ, NDCG (both relevances) and Regret@k of every method over the common tasks.

    Candidates for a target are the other common tasks (never the target itself). True
    values are the mean score after transfer (NDCG "score" relevance) and the mean gain
    (ρ, rank relevance and regret; the same order as the scores).
    """
    if not predictions:
        raise MetricError("no predictions to evaluate", hint="run `zoo-rank bench predict` first")
    tasks, dropped = common_tasks(gains, predictions)
    if targets:
        absent = [t for t in targets if t not in tasks]
        if absent:
            raise MetricError(f"target(s) {', '.join(absent)} not among the evaluated tasks ({', '.join(tasks)})",
                              hint="pick targets that the gain matrix and every method cover")
    targets = list(targets or tasks)
    if len(tasks) < 3:
        raise MetricError(f"only {len(tasks)} task(s) are covered by the gains and every method "
                          f"({', '.join(tasks) or 'none'}): each target needs at least two candidates",
                          hint="evaluate fewer methods, or add tasks to the transfer runs")
    rows = []
    for name, prediction in predictions.items():
        per_target = {}
        for target in targets:
            candidates = [s for s in tasks if s != target]
            row = prediction.scores.get(target, {})
            missing = [s for s in candidates if s not in row]
            if missing:
                raise MetricError(f"{name}: no score for {target} from {', '.join(missing)}",
                                  hint="recompute that method with `zoo-rank bench predict`")
            predicted = {s: row[s] for s in candidates}
            gain = {s: gains.cells[(s, target)].mean for s in candidates}
            score = {s: gains.cells[(s, target)].score for s in candidates}
            per_target[target] = {"rho": rho(gain, predicted), "ndcg_score": ndcg(score, predicted, "score"),
                                  "ndcg_rank": ndcg(gain, predicted, "rank"), "ndcg_paper": ndcg(gain, predicted, "paper"),
                                  **{f"regret@{k}": regret_at_k(gain, predicted, k) for k in ks}}
        mean = {key: statistics.fmean(v[key] for v in per_target.values()) for key in next(iter(per_target.values()))}
        rows.append(Row(name, prediction.family, mean["rho"], mean["ndcg_score"], mean["ndcg_rank"],
                        {k: mean[f"regret@{k}"] for k in ks}, prediction.seconds_per_embedding, per_target,
                        prediction.cpu_seconds_per_embedding, mean["ndcg_paper"]))
    return Evaluation(tasks, targets, rows, dropped, ks)


def seed_noise(gains: GainMatrix, targets: list[str], tasks: list[str]) -> dict:
    """How far one seed's measurement predicts the other seeds' mean: the ceiling on ρ here.

    For each seed, its gains are used as the "prediction" and the mean over the remaining
    seeds as the truth. A ranking method cannot be expected to beat a repeat of the
    experiment itself.
    """
    seeds = gains.seeds
    rhos, agree = [], []
    for target in targets:
        candidates = [s for s in tasks if s != target]
        mean_best = max(candidates, key=lambda s: gains.cells[(s, target)].mean)
        complete = [seed for seed in seeds if all(seed in gains.per_seed[(s, target)] for s in candidates)]
        if len(complete) < 2:  # a seed still running is left out of the noise estimate
            continue
        for seed in complete:
            held = {s: statistics.fmean(v for k, v in gains.per_seed[(s, target)].items() if k != seed and k in complete)
                    for s in candidates}
            one = {s: gains.per_seed[(s, target)][seed] for s in candidates}
            rhos.append(rho(held, one))
            agree.append(max(candidates, key=one.get) == mean_best)
    stds = [gains.cells[(s, t)].std for t in targets for s in tasks if s != t]
    spreads = [statistics.pstdev([gains.cells[(s, t)].mean for s in tasks if s != t]) for t in targets]
    if not rhos:
        return {"seeds": seeds, "rho": math.nan, "agreement": math.nan, "median_std": math.nan, "spread": math.nan}
    return {"seeds": seeds, "rho": statistics.fmean(rhos), "agreement": statistics.fmean(agree),
            "median_std": statistics.median(stds), "spread": statistics.median(spreads)}
