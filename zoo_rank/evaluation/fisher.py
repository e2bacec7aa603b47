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
    """Mean squared per-example gradient of the loss w.r.t. the encoder weights, flattened."""
    import torch

    from ..training.loop import collate, encode, label_targets

    regression = data.task_type == "regression"
    body = getattr(model, model.base_model_prefix)
    params = [p for n, p in body.named_parameters() if not n.startswith("embeddings.")]
    fisher = [torch.zeros_like(p) for p in params]
    encoded = encode(tokenizer, data, config.max_length)
    targets, _ = label_targets(data, regression)
    pad = model.config.pad_token_id or 0
    model.eval()  # no dropout: the Fisher of the trained model, not of a noisy one
    for i in range(len(data)):
        batch = collate(pad, encoded, [i], device)
        label = torch.tensor([targets[i]], dtype=torch.float32 if regression else torch.long, device=device)
        grads = torch.autograd.grad(model(**batch, labels=label).loss, params)
        for acc, g in zip(fisher, grads):
            acc += g.detach() ** 2
    return torch.cat([(f / len(data)).flatten().cpu() for f in fisher]).numpy()
