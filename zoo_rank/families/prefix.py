"""Prefix tuning (Li & Liang, 2021): trainable key/value prefixes in every attention layer;
P-tuning prefixes read from peft checkpoints belong here too.

View: the mean key and value prefix, and the key→value map Σₜ vₜkₜᵀ / T, all unchanged by
permuting prefix positions. Recipe: peft's prefix tuning, 20 virtual tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from ..terms import LowRank, Term, Vec
from .base import Family, PeftMethod, at_least_one


def view(w) -> Iterator[Term]:
    for params in w.layers.values():
        for kind, param in params:
            if param == "key":
                keys, values = params[(kind, "key")], params[(kind, "value")]
                yield Vec(f"{kind}:key-mean", keys.mean(axis=0))
                yield Vec(f"{kind}:value-mean", values.mean(axis=0))
                yield LowRank(f"{kind}:value·key", values.T / len(values), keys.T)


@dataclass(frozen=True)
class PrefixSettings:
    """How zoo-rank's prefix-tuning runs are set (``--prefix-length``)."""

    prefix_length: int = field(default=20, metadata={"help": "Prefix tuning's virtual tokens per layer."})

    def __post_init__(self) -> None:
        at_least_one(self, "prefix_length")


class PrefixTuning(PeftMethod):
    """Prefix tuning (Li & Liang, 2021): trainable key/value prefixes in every layer."""

    def peft_config(self, model):
        from peft import PrefixTuningConfig

        return PrefixTuningConfig(task_type=self.task_type(model), num_virtual_tokens=self.settings.prefix_length)

    def prepare(self, model):
        return with_prefix_forward(super().prepare(model))


def cache_argument(forward) -> str | None:
    """The name under which a model's ``forward`` takes the prefixes as key/value cache:
    ``past_key_values`` (transformers 4.x) or ``cache`` (encoders in transformers 5); None: neither."""
    import inspect

    names = inspect.signature(forward).parameters
    return "past_key_values" if "past_key_values" in names else "cache" if "cache" in names else None


def with_prefix_forward(model):
    """Make a peft prefix-tuning model of an encoder run under transformers 5 as under 4.x.

    transformers 5 renamed the encoders' ``past_key_values`` argument to ``cache``, and peft's
    prefix forward looks for the old name and refuses ("Model does not support past key
    values"). The mechanism itself still works: the prefixes go in as the attention cache and
    the attention mask is widened by the prefix length, which is what peft does under 4.x.
    Models whose forward still takes ``past_key_values`` keep peft's own forward.
    """
    import types

    config = getattr(model, "active_peft_config", None)
    backbone = getattr(model.base_model, model.base_model.base_model_prefix, None)
    if backbone is None or str(getattr(config, "peft_type", "")).rsplit(".", 1)[-1] != "PREFIX_TUNING":
        return model
    if cache_argument(backbone.forward) != "cache":
        return model

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, labels=None, **kwargs):
        import torch

        batch = (input_ids if input_ids is not None else inputs_embeds).shape[0]
        if attention_mask is not None:
            prefix = torch.ones(batch, self.active_peft_config.num_virtual_tokens, dtype=attention_mask.dtype,
                                device=attention_mask.device)
            attention_mask = torch.cat((prefix, attention_mask), dim=1)
        kwargs.pop("past_key_values", None)
        if labels is not None:  # a question-answering head takes start and end positions instead
            kwargs["labels"] = labels
        return self.base_model(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                               cache=self.get_prompt(batch), **kwargs)

    model.forward = types.MethodType(forward, model)
    return model


def apply(applying) -> dict:
    """Per-layer key and value prefixes as the attention cache: peft builds it in the form this
    transformers release takes (``past_key_values`` up to 4.x, ``cache`` for encoders in 5); the
    attention mask is widened by the prefix length, as peft does."""
    import numpy as np
    import torch
    from peft import PeftModelForFeatureExtraction, PrefixTuningConfig, TaskType
    from peft.utils import set_peft_model_state_dict

    model, weights = applying.model, applying.weights
    config = model.config
    layers = sorted(weights.layers)
    if layers != list(range(config.num_hidden_layers)):
        raise applying.misfit(f"has prefixes for {len(layers)} layers; the base model has {config.num_hidden_layers}")
    per_layer = []
    for layer in layers:
        params = weights.layers[layer]
        kind = next(k for k, p in params if p == "key")
        per_layer += [params[(kind, "key")], params[(kind, "value")]]
    applying.check_width(per_layer[0].shape[1])
    prompt = np.concatenate(per_layer, axis=1).astype(np.float32)  # tokens × (2 · layers · hidden)
    tokens = prompt.shape[0]
    peft_config = PrefixTuningConfig(task_type=TaskType.FEATURE_EXTRACTION, num_virtual_tokens=tokens,
                                     num_layers=config.num_hidden_layers, token_dim=config.hidden_size,
                                     num_attention_heads=config.num_attention_heads)
    wrapped = PeftModelForFeatureExtraction(model, peft_config)
    set_peft_model_state_dict(wrapped, {"prompt_embeddings": torch.as_tensor(prompt)})
    wrapped.eval()
    argument = cache_argument(model.forward) or "past_key_values"

    def run(input_ids, attention_mask, **batch):
        widened = applying.with_virtual_tokens({"attention_mask": attention_mask}, tokens)
        return model(input_ids=input_ids, **widened, **batch, **{argument: wrapped.get_prompt(len(input_ids))})

    return {"runner": run, "virtual_tokens": 0}


FAMILY = Family("prefix", ("prefix_tuning",), view, PrefixTuning, (1e-2, 1e-3), PrefixSettings, apply=apply)
