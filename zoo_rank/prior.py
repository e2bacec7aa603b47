"""A source prior: how much each built-in task helped the *other* built-in tasks when it was
the intermediate task, measured (``zoo-rank bench transfer``) and shipped with the package.

Much of intermediate-task transfer is a property of the source (Kim et al., EMNLP 2023:
TaskWeb). ``--prior WEIGHT`` blends it with similarity: each part is standardised over the
candidates (z-scores) and ``score = (1 - w) · z(similarity) + w · z(prior)``. A candidate
without a measured prior (anything not from the shipped set) counts as an average source
(z = 0) and is named in a warning. A target that is itself a measured task never sees its own
gains: its column is left out of every source's mean (leave-one-target-out).

numpy-free; ranking stays torch-free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from statistics import mean, pstdev

from .errors import ZooRankError

PRIOR_FILE = "prior.json"


@dataclass(frozen=True)
class SourcePrior:
    """Mean measured gains, ``gains[source][target]`` in the target metric's points."""

    gains: dict[str, dict[str, float]]
    about: dict = field(default_factory=dict)

    @property
    def tasks(self) -> set[str]:
        return set(self.gains)

    def of(self, source: str, leave_out: str | None = None) -> float | None:
        """``source``'s mean gain over the measured targets other than itself and ``leave_out``."""
        row = self.gains.get(source)
        if not row:
            return None
        values = [gain for target, gain in row.items() if target not in (source, leave_out)]
        return mean(values) if values else None


def load_prior(path: str | Path | None = None) -> SourcePrior:
    """The shipped prior (``zoo_rank/data/prior.json``), or one written by ``zoo-rank bench prior``."""
    return _load(str(path) if path else None)


@lru_cache(maxsize=4)
def _load(path: str | None) -> SourcePrior:
    source = Path(path) if path else resources.files("zoo_rank") / "data" / PRIOR_FILE
    try:
        body = json.loads(source.read_text(encoding="utf-8"))
        gains = {s: {t: float(g) for t, g in row.items()} for s, row in body["gains"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ZooRankError(f"{source}: not a source-prior file ({exc})",
                           hint="write one with `zoo-rank bench prior --gains RESULTS.jsonl`") from exc
    return SourcePrior(gains, {k: v for k, v in body.items() if k != "gains"})


def prior_document(gains, provenance: dict | None = None) -> dict:
    """The JSON written to ship a prior: mean gains of a ``GainMatrix``, and where they came from."""
    return {
        "about": "mean gain (target metric points, x100) of fine-tuning on the source first, per (source, target); "
                 "measured by `zoo-rank bench transfer`",
        "tasks": list(gains.tasks),
        "metric": dict(gains.metric),
        "seeds": list(gains.seeds),
        "provenance": provenance or {},
        "gains": {s: {t: round(gains.cells[(s, t)].mean, 4) for t in gains.tasks if t != s} for s in gains.tasks},
    }


def standardise(values: dict[str, float]) -> dict[str, float]:
    """z-scores over the candidates (all 0 when they are all equal)."""
    if not values:
        return {}
    centre, spread = mean(values.values()), pstdev(values.values())
    return {k: (v - centre) / spread if spread > 0 else 0.0 for k, v in values.items()}


def blend(similarity: dict[str, float], prior: dict[str, float | None], weight: float) -> dict[str, float]:
    """``(1 - w)·z(similarity) + w·z(prior)`` per candidate; no prior counts as z = 0 (an average source)."""
    z_similarity = standardise(similarity)
    z_prior = standardise({k: v for k, v in prior.items() if v is not None})
    return {k: (1 - weight) * z_similarity[k] + weight * z_prior.get(k, 0.0) for k in similarity}
