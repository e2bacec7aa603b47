"""How a task's held-out predictions are scored: accuracy, F1, Matthews correlation, Pearson, Spearman.

GLUE scores each task with its own metric (CoLA by Matthews correlation, MRPC and QQP by
F1 of the positive class, STS-B by Pearson correlation, the rest by accuracy); a ground truth
that scored them all by accuracy would reward a classifier that always says "acceptable" on
CoLA. Every metric here is computed for a run, and the task's standard one is its score.
Plain numpy: the evaluation reads these without torch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .collect import EXTRACTIVE_QA

CLASSIFICATION_METRICS = ("accuracy", "f1", "mcc")
REGRESSION_METRICS = ("pearson", "spearman")
QA_METRICS = ("exact_match", "token_f1")  # SQuAD's two, over answer tokens
METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS + QA_METRICS

# The standard GLUE metric of the tasks whose metric is not accuracy (Wang et al., 2019).
GLUE_METRICS = {"cola": "mcc", "mrpc": "f1", "qqp": "f1", "stsb": "pearson", "sts-b": "pearson"}


def default_metric(task: str, task_type: str) -> str:
    """The metric a task is scored by unless its folder says otherwise."""
    if task_type == "regression":
        return "pearson"
    if task_type == EXTRACTIVE_QA:
        return "token_f1"
    return GLUE_METRICS.get(task.lower(), "accuracy")


def positive_label(label_names: Sequence[str]) -> str:
    """The class F1 is taken of: "1" where the labels are 0/1 (GLUE's paraphrase tasks), else the last."""
    return "1" if "1" in label_names else label_names[-1]


def classification_scores(predicted: Sequence[int], gold: Sequence[int], positive: int) -> dict[str, float]:
    """Accuracy, F1 of class ``positive`` and Matthews correlation (multi-class: Gorodkin's R_K)."""
    predicted, gold = np.asarray(predicted), np.asarray(gold)
    accuracy = float(np.mean(predicted == gold)) if len(gold) else 0.0
    tp = int(np.sum((predicted == positive) & (gold == positive)))
    fp = int(np.sum((predicted == positive) & (gold != positive)))
    fn = int(np.sum((predicted != positive) & (gold == positive)))
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"accuracy": accuracy, "f1": f1, "mcc": _mcc(predicted, gold)}


def _mcc(predicted: np.ndarray, gold: np.ndarray) -> float:
    classes = np.union1d(predicted, gold)
    index = {c: i for i, c in enumerate(classes)}
    confusion = np.zeros((len(classes), len(classes)))
    for p, g in zip(predicted, gold):
        confusion[index[g], index[p]] += 1
    n = confusion.sum()
    correct = np.trace(confusion)
    true_counts, predicted_counts = confusion.sum(1), confusion.sum(0)
    numerator = correct * n - true_counts @ predicted_counts
    denominator = np.sqrt((n ** 2 - predicted_counts @ predicted_counts) * (n ** 2 - true_counts @ true_counts))
    return float(numerator / denominator) if denominator else 0.0  # a constant prediction: 0, as sklearn


def regression_scores(predicted: Sequence[float], gold: Sequence[float]) -> dict[str, float]:
    """Pearson and Spearman correlation; 0 for a constant prediction (no correlation to speak of)."""
    predicted, gold = np.asarray(predicted, dtype=float), np.asarray(gold, dtype=float)
    return {"pearson": _pearson(predicted, gold), "spearman": _pearson(_ranks(predicted), _ranks(gold))}


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), as Spearman's rho needs."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]
