"""Validation of config values read from checkpoints found in the wild.

A config from the hub may hold anything JSON can: ``"lora_alpha": "sixteen"``, a negative
alpha (which would silently flip the sign of every LoRA update and so of the embedding), an
``alpha_pattern`` given as a list or holding a regex that does not compile. Each check turns
such a value into the checkpoint's one-line error, naming the field and the file.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ..errors import CheckpointError

_RESAVE = "re-save the adapter with its library (save_pretrained() / save_adapter())"


def positive_number(value: Any, field: str, path: Path) -> float:
    """A finite number > 0 (bools are not numbers here, although Python says they are)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise CheckpointError(path, f"has {field} {value!r}; it must be a positive number", hint=_RESAVE)
    return float(value)


def positive_int(value: Any, field: str, path: Path) -> int:
    """An integer > 0 (``6.0`` is accepted as 6; ``"six"``, 0 and -6 are not)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CheckpointError(path, f"has {field} {value!r}; it must be a positive integer", hint=_RESAVE)
    return value


def number_patterns(value: Any, field: str, path: Path) -> dict[str, float]:
    """PEFT's ``alpha_pattern`` / ``rank_pattern``: a mapping of module regexes to positive numbers."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CheckpointError(path, f"has {field} of type {type(value).__name__}; it must map module "
                                    "patterns to numbers", hint=_RESAVE)
    patterns: dict[str, float] = {}
    for pattern, number in value.items():
        try:
            re.compile(pattern)
        except (re.error, RecursionError, OverflowError) as exc:
            raise CheckpointError(path, f"has {field} key {pattern[:60]!r}, which is not a regular expression "
                                        f"({exc})", hint=_RESAVE) from exc
        patterns[pattern] = positive_number(number, f"{field}[{pattern[:60]!r}]", path)
    return patterns


def tensor_rank(shape: tuple[int, ...], what: str, path: Path, *, ndim: int = 2) -> None:
    """A factor tensor must have at least ``ndim`` dimensions and no empty one."""
    if len(shape) < ndim or 0 in shape:
        raise CheckpointError(path, f"{what} has shape {list(shape)}; expected {ndim} or more non-empty dimensions",
                              hint=_RESAVE)
