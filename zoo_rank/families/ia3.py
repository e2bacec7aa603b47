"""IA3 (Liu et al., 2022): learned vectors that rescale activations.

View: the deviation of the scaling vectors from their initial value 1. Read from peft
checkpoints; not trained by zoo-rank.
"""

from __future__ import annotations

import re
from typing import Iterator

from ..terms import Term, Vec
from .base import Family


def view(w) -> Iterator[Term]:
    for params in w.layers.values():
        for (kind, _param), scaling in params.items():
            yield Vec(f"{kind}:ia3", scaling - 1.0)


def apply(applying) -> None:
    """peft scales a feed-forward module's input and every other module's output; AdapterHub's IA3
    scales outputs."""
    patterns = _feedforward_patterns(applying.weights)
    for layer, kind, params, module in applying.each():
        applying.scale(module, applying.tensor(params, kind, "ia3_l"), _is_feedforward(kind, patterns), layer, kind)


def _feedforward_patterns(weights) -> list[str]:
    modules = weights.config.get("feedforward_modules") if weights.format == "peft" else None
    if isinstance(modules, str):
        return [modules]
    return [str(m) for m in modules or ()]


def _is_feedforward(kind: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if len(patterns) == 1 and not re.fullmatch(r"[\w.]+", pattern):
            if re.fullmatch(pattern, kind.replace("*", "0")) or re.search(pattern, kind):
                return True
        elif kind == pattern or kind.endswith("." + pattern):
            return True
    return False


FAMILY = Family("ia3", ("ia3",), view, apply=apply)
