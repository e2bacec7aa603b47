"""What a gain matrix rewards beyond task similarity: the diagnostics behind docs/results.md's analysis.

A method can score well on a small gain matrix without comparing tasks at all, when some
sources help nearly every target or when the output type (regression vs classification)
decides the sign of the gain. These functions measure both, so a ranking's ρ can be read
against them.
"""

from __future__ import annotations

from statistics import mean

from .gains import GainMatrix
from .metrics import rho


def output_types(gains: GainMatrix) -> dict[str, str]:
    """"regression" for the tasks scored by Pearson r, "classification" for the rest."""
    return {t: ("regression" if gains.metric.get(t) == "pearson" else "classification") for t in gains.tasks}


def source_prior(gains: GainMatrix, target: str) -> dict[str, float]:
    """Each candidate source's mean gain on the *other* targets: a ranking that never looks at ``target``.

    Not a method one could deploy (it needs measured gains), but its ρ shows how much of the
    matrix is "some sources help everyone".
    """
    sources = [s for s in gains.tasks if s != target]
    return {s: mean(gains.cells[(s, u)].mean for u in gains.tasks if u not in (s, target)) for s in sources}


def source_prior_rho(gains: GainMatrix) -> tuple[float, dict[str, float]]:
    """Mean and per-target ρ of ranking every target's sources by :func:`source_prior`."""
    per_target = {t: rho(gains.gains(t), source_prior(gains, t)) for t in gains.tasks}
    return mean(per_target.values()), per_target


def same_type_first(scores: dict[str, dict[str, float]], kind: dict[str, str]) -> float:
    """Mean over targets of the chance that a source of the target's own output type outscores one
    of the other type (ties count half): 1 always, 0.5 no preference, 0 never.

    Targets whose candidates are all of one type are skipped.
    """
    shares = []
    for target, row in scores.items():
        same = [v for s, v in row.items() if kind[s] == kind[target]]
        other = [v for s, v in row.items() if kind[s] != kind[target]]
        if same and other:
            shares.append(mean((a > b) + 0.5 * (a == b) for a in same for b in other))
    return mean(shares)


def prior_blend_rho(gains: GainMatrix, similarity: dict[str, dict[str, float]], weight: float) -> dict[str, float]:
    """Per-target ρ of ``--prior weight``'s blend (``zoo_rank.prior.blend``) of a method's
    similarity scores with the source prior, the prior computed leave-one-target-out."""
    from ..prior import blend

    return {t: rho(gains.gains(t), blend(similarity[t], source_prior(gains, t), weight)) for t in gains.tasks}
