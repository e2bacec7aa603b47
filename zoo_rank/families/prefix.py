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
        from peft import PrefixTuningConfig, TaskType

        return PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=self.settings.prefix_length)

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
        return self.base_model(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                               labels=labels, cache=self.get_prompt(batch), **kwargs)

    model.forward = types.MethodType(forward, model)
    return model


FAMILY = Family("prefix", ("prefix_tuning",), view, PrefixTuning, (1e-2, 1e-3), PrefixSettings)
