"""IA3 (Liu et al., 2022): learned vectors that rescale activations.

View: the deviation of the scaling vectors from their initial value 1. Read from peft
checkpoints; not trained by zoo-rank.
"""

from __future__ import annotations

from typing import Iterator

from ..terms import Term, Vec
from .base import Family


def view(w) -> Iterator[Term]:
    for params in w.layers.values():
        for (kind, _param), scaling in params.items():
            yield Vec(f"{kind}:ia3", scaling - 1.0)


FAMILY = Family("ia3", ("ia3",), view)
