"""The methods zoo-rank trains, by name: each family's recipe (``zoo_rank/families/``).

A recipe wraps a sequence-classification model so that only its own parameters (and the task
head) train, and writes a checkpoint in its library's own format: peft's for LoRA and prefix
tuning, zoo-rank's BitFit format (``readers/bitfit.py``) for BitFit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..families import Method, head_prefixes, is_head_parameter, trainable
from ..families.prefix import with_prefix_forward


def recipe(method: str) -> type[Method]:
    """The recipe that trains ``method`` (a family zoo-rank trains, plugins included)."""
    return trainable()[method].recipe


__all__ = ["Method", "recipe", "apply_bitfit", "head_prefixes", "is_head_parameter", "with_prefix_forward"]


def apply_bitfit(model, directory: str | Path):
    """Load a zoo-rank BitFit checkpoint into a transformers model (in place): add the deltas, set the head."""
    import torch

    from ..readers.bitfit import WEIGHTS
    from ..readers.tensorfile import load_safetensors

    tensors = load_safetensors(Path(directory) / WEIGHTS).tensors
    params = dict(model.named_parameters())
    missing = [n for n in tensors if n not in params]
    if missing:
        from ..errors import CheckpointError

        raise CheckpointError(directory, f"names {missing[0]!r}, which this model does not have",
                              hint="load it into the base model it was trained on")
    heads = set(head_prefixes(model))
    with torch.no_grad():
        for name, value in tensors.items():
            tensor = torch.from_numpy(np.ascontiguousarray(value)).to(params[name].dtype)
            if name.split(".", 1)[0] in heads:
                params[name].copy_(tensor)
            else:
                params[name].add_(tensor)
    return model
