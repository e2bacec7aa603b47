"""Method families, one module each: what is comparable, how to view it, how zoo-rank trains it.

    families/lora.py        LoRA: view dW = scale·BA; recipe (peft LoRA); learning rates
    families/bitfit.py      BitFit: view the bias deltas; recipe; learning rates
    families/prefix.py      prefix tuning (and P-tuning prefixes): view; recipe; learning rates
    families/prompt.py      prompt tuning and P-tuning: view
    families/ia3.py         IA3: view
    families/bottleneck.py  bottleneck adapters: view

A new family is one new module with a ``FAMILY`` (``base.Family``) and one line in ``_MODULES``;
its checkpoints are read by the reader of their file format (``zoo_rank/readers/``).
"""

from __future__ import annotations

from importlib import import_module

from .base import Family, Method, PeftMethod, head_prefixes, is_head_parameter

_MODULES = ("bitfit", "lora", "prefix", "prompt", "ia3", "bottleneck")

FAMILIES: dict[str, Family] = {}
for _module in _MODULES:
    _family: Family = import_module(f".{_module}", __name__).FAMILY
    if _family.recipe is not None:
        _family.recipe.name = _family.name
    FAMILIES[_family.name] = _family

METHOD_FAMILY: dict[str, str] = {method: f.name for f in FAMILIES.values() for method in f.methods}
TRAINABLE: dict[str, Family] = {name: f for name, f in FAMILIES.items() if f.recipe is not None}

__all__ = ["FAMILIES", "METHOD_FAMILY", "TRAINABLE", "Family", "Method", "PeftMethod", "head_prefixes",
           "is_head_parameter"]
