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

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..weights import AdapterWeights


@dataclass
class LowRank:
    key: str
    u: np.ndarray  # out × k
    v: np.ndarray  # in × k


@dataclass
class Vec:
    key: str
    x: np.ndarray


Term = LowRank | Vec
VIEWS: dict[str, Callable[[AdapterWeights], Iterator[Term]]] = {}


def view(family: str):
    """Register the invariant view of a method family."""

    def register(fn: Callable[[AdapterWeights], Iterator[Term]]):
        VIEWS[family] = fn
        return fn

    return register


@view("lora")
def lora_terms(w: AdapterWeights) -> Iterator[Term]:
    for layer, params in w.layers.items():
        for kind, param in params:
            if param == "lora_A":
                a, b = params[(kind, "lora_A")], params[(kind, "lora_B")]
                yield LowRank(f"{kind}:dW", w.scales[(layer, kind)] * b, a.T)
            elif param == "lora_B.bias":
                yield Vec(f"{kind}:bias", params[(kind, param)])


@view("bottleneck")
def bottleneck_terms(w: AdapterWeights) -> Iterator[Term]:
    for params in w.layers.values():
        for kind, param in params:
            if param == "down.weight":
                yield LowRank(f"{kind}:up·down", params[(kind, "up.weight")], params[(kind, "down.weight")].T)
            elif param == "up.bias":
                yield Vec(f"{kind}:up.bias", params[(kind, param)])


@view("prefix")
def prefix_terms(w: AdapterWeights) -> Iterator[Term]:
    for params in w.layers.values():
        for kind, param in params:
            if param == "key":
                keys, values = params[(kind, "key")], params[(kind, "value")]
                yield Vec(f"{kind}:key-mean", keys.mean(axis=0))
                yield Vec(f"{kind}:value-mean", values.mean(axis=0))
                yield LowRank(f"{kind}:value·key", values.T / len(values), keys.T)


@view("prompt")
def prompt_terms(w: AdapterWeights) -> Iterator[Term]:
    for name, prompt in w.inputs.items():
        yield Vec(f"{name}:mean", prompt.mean(axis=0))
        yield LowRank(f"{name}:second-moment", prompt.T / len(prompt), prompt.T)


@view("ia3")
def ia3_terms(w: AdapterWeights) -> Iterator[Term]:
    for params in w.layers.values():
        for (kind, _param), scaling in params.items():
            yield Vec(f"{kind}:ia3", scaling - 1.0)


@view("bitfit")
def bitfit_terms(w: AdapterWeights) -> Iterator[Term]:
    for params in w.layers.values():
        for (kind, _param), delta in params.items():
            yield Vec(f"{kind}:bias", delta)
