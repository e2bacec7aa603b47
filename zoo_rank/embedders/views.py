"""The invariant view of each method: what of its tuned parameters is task, not accident.

Each function turns one checkpoint's ``AdapterWeights`` into terms that the invariant
embedder sketches: ``LowRank(key, U, V)`` stands for the matrix U Vᵀ, ``Vec(key, x)`` for a
vector. Terms with the same key are summed over layers (TuPaTE's layer average, up to a
constant that cosine ignores). Choices, per method:

* LoRA: the weight update dW = scale · B A, independent of rank, alpha and factorisation.
* Bottleneck: W_up W_down and the up-projection bias; both unchanged by permuting hidden units.
* Prefix tuning: mean key and value prefix, and the key→value map Σₜ vₜkₜᵀ / T; all unchanged
  by permuting prefix positions.
* Prompt tuning / P-tuning: mean prompt vector and its second moment EᵀE / T.
* IA3: the deviation of the learned scaling vectors from their initial value 1.
* BitFit: the bias deltas as stored.
"""

from __future__ import annotations

from typing import Callable, Iterator

from ..families import families
from ..terms import LowRank, Term, Vec
from ..weights import AdapterWeights


def view_of(family: str) -> Callable[[AdapterWeights], Iterator[Term]]:
    """A family's view; each lives in its family's module (``zoo_rank/families/<family>.py``)."""
    return families()[family].view


__all__ = ["LowRank", "Term", "Vec", "view_of"]
