"""Method families, one module each: what is comparable, how to view it, how to apply it to a
base model (the behaviour embedder), how zoo-rank trains it.

    families/lora.py        LoRA: view dW = scale·BA; apply; recipe (peft LoRA); settings; learning rates
    families/bitfit.py      BitFit: view the bias deltas; apply; recipe; learning rates
    families/prefix.py      prefix tuning (and P-tuning prefixes): view; apply; recipe; settings; learning rates
    families/prompt.py      prompt tuning and P-tuning: view; apply
    families/ia3.py         IA3: view; apply
    families/bottleneck.py  bottleneck adapters: view; apply

A new family is one new module with a ``FAMILY`` (``base.Family``) and one line in ``_MODULES``,
or, from another package, a plugin's ``register_families`` hook (docs/extending.md). Its
checkpoints are read by the reader of their file format (``zoo_rank/readers/``, or a reader plugin).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module

from ..plugins import installed, own
from .base import Family, Method, PeftMethod, head_prefixes, is_head_parameter

_MODULES = ("bitfit", "lora", "prefix", "prompt", "ia3", "bottleneck")


def _registered(family: Family) -> Family:
    """The family, its recipe told its name and family (what it trains and with which settings)."""
    if family.recipe is not None:
        family.recipe.name = family.name
        family.recipe.family = family
    return family


def register_families(register) -> None:
    """zoo-rank's own families, registered as a plugin's are (``hookspecs.register_families``)."""
    for module in _MODULES:
        register(import_module(f".{module}", __name__).FAMILY)


# zoo-rank's own; ``families()`` adds those of plugin packages
BUILTIN: dict[str, Family] = {name: _registered(family) for name, family in
                              own(register_families, lambda family: (family.name, family)).items()}


def families() -> dict[str, Family]:
    """Every family by name: zoo-rank's own, then those of plugin packages (``register_families``),
    loaded on first use so that a plugin may import zoo-rank's modules."""
    return _with_plugins()


@lru_cache(maxsize=1)
def _with_plugins() -> dict[str, Family]:
    found = dict(BUILTIN)
    for name, family in installed("register_families", lambda family: (family.name, _plugin_family(family, found))):
        found[name] = _registered(family)
    return found


def _plugin_family(found: object, known: dict[str, Family]) -> Family:
    if not isinstance(found, Family):
        raise ValueError("a family plugin must be a zoo_rank.families.Family")
    if found.name in known:
        raise ValueError(f"the family {found.name!r} is {'zoo-rank' if found.name in BUILTIN else 'another plugin'}'s own")
    for method in found.methods:
        owner = next((f.name for f in known.values() if method in f.methods), None)
        if owner is not None:
            raise ValueError(f"the method {method!r} belongs to the family {owner!r}")
    if found.recipe is not None and not (isinstance(found.recipe, type) and issubclass(found.recipe, Method)):
        raise ValueError("a family's recipe must be a zoo_rank.families.Method subclass")
    if found.recipe is not None and not found.learning_rates:
        raise ValueError("a family zoo-rank trains needs its learning rates (the first is early mode's)")
    return found


@lru_cache(maxsize=1)
def method_families() -> dict[str, str]:
    """Each checkpoint method's family (the space its embeddings share), plugins included."""
    return {method: f.name for f in families().values() for method in f.methods}


def family_of(method: str) -> str:
    """The family of a checkpoint method, or of a family name (itself); an unknown name is its own."""
    return method_families().get(method, method)


def trainable() -> dict[str, Family]:
    """The families zoo-rank can train (those with a recipe), by name."""
    return {name: f for name, f in families().items() if f.recipe is not None}


__all__ = ["BUILTIN", "Family", "Method", "PeftMethod", "families", "family_of", "head_prefixes",
           "is_head_parameter", "method_families", "trainable"]
