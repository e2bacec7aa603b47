"""TaskEmb's task vectors (the diagonal Fisher of a fine-tuned model) and the atomic JSON
writer the evaluation's files share. Used by ``transfer`` (Fisher vectors captured while the
ground truth fine-tunes) and ``predict`` (TaskEmb); imports neither."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

FISHER_EXAMPLES = 256


def write_json(path: str | Path, body) -> None:
    """Write atomically: an interrupted ``bench predict`` never leaves a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def fisher_vector(model, tokenizer, data, config, device) -> np.ndarray:
    """Mean squared per-example gradient of the loss w.r.t. the encoder weights, flattened (word
    embeddings excluded; a question-answering model's absent pooler counted as 0)."""
    import torch

    from ..training.objectives import objective_for

    objective = objective_for(data)
    body = getattr(model, model.base_model_prefix)
    params = [p for n, p in body.named_parameters() if not n.startswith("embeddings.")]
    fisher = [torch.zeros_like(p) for p in params]
    encoded = objective.encode(tokenizer, data, config.max_length)
    targets, _ = objective.targets(data)
    pad = model.config.pad_token_id or 0
    model.eval()  # no dropout: the Fisher of the trained model, not of a noisy one
    for i in range(len(data)):
        grads = torch.autograd.grad(objective.loss(model, encoded, targets, [i], device, pad), params)
        for acc, g in zip(fisher, grads):
            acc += g.detach() ** 2
    parts = [(f / len(data)).flatten().cpu() for f in fisher]
    parts.append(torch.zeros(_absent_pooler_values(model)))
    return torch.cat(parts).numpy()


def _absent_pooler_values(model) -> int:
    """How many values the pooler of a sequence-classification model of this base has, when
    ``model`` (a question-answering one) has none: their Fisher is 0 (they do not touch its loss),
    so every task type's vector has one length and one order (the pooler last) and compares."""
    import torch
    from transformers import AutoModelForSequenceClassification

    body = getattr(model, model.base_model_prefix)
    if any(name.startswith("pooler.") for name, _ in body.named_parameters()):
        return 0
    with torch.device("meta"):  # the architecture alone, no memory
        other = AutoModelForSequenceClassification.from_config(model.config)
    other_body = getattr(other, other.base_model_prefix)
    return sum(p.numel() for name, p in other_body.named_parameters() if name.startswith("pooler."))
