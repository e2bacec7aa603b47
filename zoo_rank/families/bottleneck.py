"""Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2020): small down/up projections
inserted after the attention or feed-forward block (AdapterHub checkpoints).

View: W_up W_down and the up-projection bias, both unchanged by permuting hidden units. Read,
not trained by zoo-rank.
"""

from __future__ import annotations

from typing import Iterator

from ..terms import LowRank, Term, Vec
from .base import Family


def view(w) -> Iterator[Term]:
    for params in w.layers.values():
        for kind, param in params:
            if param == "down.weight":
                yield LowRank(f"{kind}:up·down", params[(kind, "up.weight")], params[(kind, "down.weight")].T)
            elif param == "up.bias":
                yield Vec(f"{kind}:up.bias", params[(kind, param)])


FAMILY = Family("bottleneck", ("bottleneck",), view)
