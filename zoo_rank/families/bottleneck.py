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


_ACTIVATIONS = {"relu": "relu", "gelu": "gelu", "gelu_new": "gelu", "swish": "silu", "silu": "silu",
                "tanh": "tanh", "sigmoid": "sigmoid", "leakyrelu": "leaky_relu", "leaky_relu": "leaky_relu"}


def apply(applying) -> None:
    """``h + up(act(down(h)))`` on the output of the module's ``dense`` projection, before the
    residual LayerNorm (Houlsby's placement; AdapterHub's Pfeiffer variant puts it after the
    LayerNorm, which this approximates)."""
    import torch

    config = applying.weights.config
    config = config.get("config") if isinstance(config.get("config"), dict) else config
    activation = getattr(torch.nn.functional, _ACTIVATIONS.get(str(config.get("non_linearity", "relu")).lower(), "relu"))
    linear = torch.nn.functional.linear
    for _layer, kind, params, module in applying.each():
        if (kind, "down.weight") not in params:
            continue
        down_w, up_w = applying.tensor(params, kind, "down.weight"), applying.tensor(params, kind, "up.weight")
        down_b = applying.tensor(params, kind, "down.bias") if (kind, "down.bias") in params else None
        up_b = applying.tensor(params, kind, "up.bias") if (kind, "up.bias") in params else None

        def adapter(h, down_w=down_w, up_w=up_w, down_b=down_b, up_b=up_b):
            z = activation(linear(h, down_w.to(h), None if down_b is None else down_b.to(h)))
            return h + linear(z, up_w.to(h), None if up_b is None else up_b.to(h))

        applying.after(getattr(module, "dense", module), adapter)


FAMILY = Family("bottleneck", ("bottleneck",), view, apply=apply)
