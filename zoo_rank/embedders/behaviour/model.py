"""The base model a behaviour embedding runs, found on this machine and never downloaded here.

The default model comes from ``zoo-rank fetch model``; any other base model from a local
folder or the Hugging Face cache (offline lookup only: pulling a model is ``zoo-rank pull
--with-base-model``'s or the user's job). Remote code is never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...base_models import locate_base_model
from ...errors import BaseModelMissing, ZooRankError

MAX_LENGTH = 64  # probe texts are short; pairs fit


@dataclass
class LoadedBase:
    name: str
    tokenizer: object
    model: object
    device: object
    base_states: np.ndarray | None = None  # probes × layers × hidden, without any adapter


_LOADED: dict[str, LoadedBase] = {}


def load_base(name: str, what: str) -> LoadedBase:
    """Tokenizer and encoder of a base model, loaded once per process and folder."""
    location = locate_base_model(name, what)
    if location in _LOADED:
        return _LOADED[location]
    try:
        import torch
        import transformers
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise ZooRankError(f"the behaviour embedder runs the base model, which needs {exc.name or 'torch'}",
                           hint="install the training extra: pip install 'zoo-rank[train]' (after torch)") from exc

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        kwargs = dict(local_files_only=True, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        model = AutoModel.from_pretrained(location, **kwargs)
    except Exception as exc:  # noqa: BLE001 - OSError, ValueError, safetensors' own errors on a damaged file, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BaseModelMissing(f"cannot load the base model {name} (needed by {what}): {first}",
                               hint="check that the model folder or cache entry is complete") from exc
    finally:
        transformers.logging.set_verbosity(verbosity)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.float().to(device).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    if len(_LOADED) >= 2:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[location] = LoadedBase(name, tokenizer, model, device)
    return _LOADED[location]


def probe_states(base: LoadedBase, probes, runner=None, virtual_tokens: int = 0) -> np.ndarray:
    """Per probe text, per layer (embeddings excluded), the mean over its tokens of the hidden
    state: probes × layers × hidden, float64. ``runner`` is what to call instead of the model (prefix and
    prompt tuning), whose outputs start with ``virtual_tokens`` prompt positions."""
    import torch

    runner = runner or base.model
    batches = [base.tokenizer(list(probes.singles), padding=True, truncation=True, max_length=MAX_LENGTH,
                              return_tensors="pt")]
    if probes.pairs:
        first, second = zip(*probes.pairs)
        batches.append(base.tokenizer(list(first), list(second), padding=True, truncation=True,
                                      max_length=MAX_LENGTH, return_tensors="pt"))
    out = []
    with torch.no_grad():
        for batch in batches:
            batch = {k: v.to(base.device) for k, v in batch.items()}
            hidden = runner(**batch, output_hidden_states=True, return_dict=True).hidden_states
            mask = batch["attention_mask"].unsqueeze(-1).to(torch.float32)
            per_layer = [(h[:, virtual_tokens:] * mask).sum(1) / mask.sum(1) for h in hidden[1:]]
            out.append(torch.stack(per_layer, dim=1).double().cpu().numpy())
    return np.concatenate(out, axis=0)
