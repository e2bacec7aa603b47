"""Ranking metrics of the transferability literature, for one target at a time.

Each takes the true value of every candidate source for one target (its score after
transfer, or its gain, in percentage points: higher is better) and the predicted score
of the same candidates (a similarity: higher means "rank first"). Ties in the prediction
are broken at random, and every metric returns its exact expectation over those random
orders, so a method that scores everything equal gets the value of a random ranking, not
a lucky or an unlucky one.

* ``rho`` — Vu et al. (2020) / Zhou et al. (2022): the 1-based position of the truly best
  source in the predicted ranking (lower is better; 1 is perfect). When several sources
  share the best true value, the average over them.
* ``ndcg`` — normalised discounted cumulative gain over the whole list, with relevance
  either the true value itself (``relevance="score"``), N − true rank (``relevance="rank"``:
  the best of N sources gets N − 1, the worst 0; tied true values share their average rank),
  or the literature's convention (``relevance="paper"``: relevance N − true rank, gain
  2^relevance − 1, as Vu et al. 2020 and Zhou et al. 2022 compute it; the only one whose
  numbers may stand beside theirs).
* ``regret_at_k`` — how many points the best of the top-k predicted sources falls short of
  the best source overall (0 is perfect).
"""

from __future__ import annotations

import math
from typing import Mapping

from ..errors import MetricError

RELEVANCES = ("score", "rank", "paper")


def _check(true: Mapping[str, float], predicted: Mapping[str, float]) -> list[str]:
    missing = sorted(set(predicted) - set(true))
    if missing:
        raise MetricError(f"no true value for candidate(s) {', '.join(missing)}",
                          hint="the gain matrix must cover every predicted source")
    unranked = sorted(set(true) - set(predicted))
    if unranked:
        raise MetricError(f"no prediction for candidate(s) {', '.join(unranked)}",
                          hint="evaluate on the candidates both sides have")
    if len(true) < 2:
        raise MetricError(f"{len(true)} candidate(s); a ranking needs at least two")
    for name, values in (("true", true), ("predicted", predicted)):
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            raise MetricError(f"{name} value of {bad[0]} is not a finite number")
    return sorted(true)


def _positions(predicted: Mapping[str, float]) -> dict[str, tuple[int, int]]:
    """Each candidate's block of tied positions (first, last), 1-based, in descending score."""
    blocks: dict[str, tuple[int, int]] = {}
    ordered = sorted(predicted.values(), reverse=True)
    for name, value in predicted.items():
        first = sum(v > value for v in ordered) + 1
        blocks[name] = (first, first + sum(v == value for v in ordered) - 1)
    return blocks


def rho(true: Mapping[str, float], predicted: Mapping[str, float]) -> float:
    """Expected 1-based predicted position of the truly best source (averaged over true ties)."""
    _check(true, predicted)
    best = max(true.values())
    winners = [name for name, value in true.items() if value == best]
    blocks = _positions(predicted)
    return sum((blocks[w][0] + blocks[w][1]) / 2 for w in winners) / len(winners)


def true_ranks(true: Mapping[str, float]) -> dict[str, float]:
    """1-based rank by true value, best first; tied values share the average of their ranks."""
    blocks = _positions(true)
    return {name: (first + last) / 2 for name, (first, last) in blocks.items()}


def relevance(true: Mapping[str, float], convention: str = "score") -> dict[str, float]:
    if convention == "score":
        return dict(true)
    if convention in ("rank", "paper"):
        n = len(true)
        rel = {name: n - r for name, r in true_ranks(true).items()}
        return rel if convention == "rank" else {name: 2.0 ** r - 1 for name, r in rel.items()}
    raise MetricError(f"unknown relevance {convention!r}", hint=f"use one of: {', '.join(RELEVANCES)}")


def _discount(first: int, last: int) -> float:
    """Mean of 1/log2(i + 1) over positions first..last: a tied block's expected discount."""
    return sum(1 / math.log2(i + 1) for i in range(first, last + 1)) / (last - first + 1)


def ndcg(true: Mapping[str, float], predicted: Mapping[str, float], relevance_of: str = "score") -> float:
    """Expected DCG of the predicted order over the DCG of the ideal order, whole list.

    With ``relevance_of="score"`` and negative true values (gains below zero) the ratio is
    still well defined as long as the ideal DCG is positive, but it may leave [0, 1]; a
    list whose ideal DCG is not positive has no NDCG and raises.
    """
    _check(true, predicted)
    rel = relevance(true, relevance_of)
    blocks = _positions(predicted)
    dcg = sum(rel[name] * _discount(*blocks[name]) for name in rel)
    ideal = sum(r / math.log2(i + 2) for i, r in enumerate(sorted(rel.values(), reverse=True)))
    if ideal <= 0:
        raise MetricError(f"NDCG is undefined: the ideal DCG is {ideal:g} (the relevances sum to no positive gain)",
                          hint="use relevance 'rank', or true scores rather than gains")
    return dcg / ideal


def regret_at_k(true: Mapping[str, float], predicted: Mapping[str, float], k: int = 1) -> float:
    """Best true value overall minus the expected best true value among the top k predicted."""
    _check(true, predicted)
    if k < 1:
        raise MetricError(f"k must be at least 1, got {k}")
    k = min(k, len(true))
    blocks = _positions(predicted)
    sure = [true[name] for name, (first, last) in blocks.items() if last <= k]
    boundary = sorted((true[name] for name, (first, last) in blocks.items() if first <= k < last), reverse=True)
    chosen_best = max(sure, default=-math.inf)
    if boundary:  # r of the m tied candidates straddling position k are taken, uniformly at random
        m, r = len(boundary), k - len(sure)
        expected = 0.0
        for j, value in enumerate(boundary):  # P(the best chosen tied candidate is the j-th best) = C(m-1-j, r-1)/C(m, r)
            expected += math.comb(m - 1 - j, r - 1) / math.comb(m, r) * max(chosen_best, value)
        return max(true.values()) - expected
    return max(true.values()) - chosen_best
