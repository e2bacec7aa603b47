"""The three parameter-efficient methods: what each trains and how it is saved.

Each method wraps a sequence-classification model so that only its own parameters (and the
task head) train, and writes a checkpoint in its library's own format: peft's for LoRA and
prefix tuning, zoo-rank's BitFit format (``readers/bitfit.py``) for BitFit. Methods register
themselves in ``METHODS`` by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from .config import TrainConfig

METHODS: dict[str, type["Method"]] = {}


def register(name: str) -> Callable[[type], type]:
    def decorate(cls: type) -> type:
        cls.name = name
        METHODS[name] = cls
        return cls

    return decorate


def head_prefixes(model) -> list[str]:
    """Top-level modules outside the base model: the task head (``classifier``, ``score``…)."""
    prefix = model.base_model_prefix
    return sorted({name.split(".", 1)[0] for name, _ in model.named_parameters() if not name.startswith(prefix + ".")})


class Method:
    """Prepare a model for training one method, and save what it trained."""

    name: str = ""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config

    def prepare(self, model):
        """Return the model to train, with only this method's parameters and the head trainable."""
        raise NotImplementedError

    def save(self, model, directory: Path) -> None:
        raise NotImplementedError

    def trainable_state(self, model) -> dict:
        """A copy of the trainable parameters (to keep the best epoch's state)."""
        return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    def load_state(self, model, state: dict) -> None:
        import torch

        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(value)


@register("bitfit")
class BitFit(Method):
    """Only bias terms train (Ben Zaken et al., 2022); saved as deltas from the base biases."""

    def prepare(self, model):
        heads = head_prefixes(model)
        self._initial = {}
        for name, param in model.named_parameters():
            in_head = name.split(".", 1)[0] in heads
            param.requires_grad = in_head or name.endswith(".bias")
            if param.requires_grad and not in_head:
                self._initial[name] = param.detach().cpu().clone()
        if not self._initial:
            from ..errors import TrainingError

            raise TrainingError(f"{model.name_or_path}: the base model has no bias parameters to tune with BitFit",
                                hint="use --method lora or prefix")
        self._heads = heads
        return model

    def save(self, model, directory: Path) -> None:
        from ..readers.bitfit import save_bitfit

        params = dict(model.named_parameters())
        deltas = {n: (params[n].detach().float().cpu() - init.float()).numpy() for n, init in self._initial.items()}
        head = {n: p.detach().float().cpu().numpy() for n, p in params.items() if n.split(".", 1)[0] in self._heads}
        save_bitfit(directory, deltas, base_model=model.name_or_path, head=head, modules_to_save=self._heads)


class _Peft(Method):
    def peft_config(self, model):
        raise NotImplementedError

    def prepare(self, model):
        from peft import get_peft_model

        return get_peft_model(model, self.peft_config(model))

    def save(self, model, directory: Path) -> None:
        # save_embedding_layers=False: "auto" would look the base model up on the hub.
        model.save_pretrained(str(directory), safe_serialization=True, save_embedding_layers=False)
        _sort_config_lists(directory / "adapter_config.json")


def _sort_config_lists(path: Path) -> None:
    """peft keeps target_modules and modules_to_save in sets, so their JSON order changes from
    process to process (string hashing is randomised); sorted, the same run writes the same
    bytes. Written as peft writes it (indent 2, sorted keys)."""
    import json

    config = json.loads(path.read_text())
    for key in ("target_modules", "modules_to_save"):
        if isinstance(config.get(key), list):
            config[key] = sorted(config[key])
    path.write_text(json.dumps(config, indent=2, sort_keys=True))


@register("lora")
class LoRA(_Peft):
    """LoRA (Hu et al., 2022) on peft's default modules for the architecture (query/value for BERT), or on
    ``lora_target_modules``."""

    def peft_config(self, model):
        from peft import LoraConfig, TaskType
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

        targets = list(self.config.lora_target_modules) if self.config.lora_target_modules else (
            None if model.config.model_type in DEFAULTS else _attention_projections(model))
        return LoraConfig(task_type=TaskType.SEQ_CLS, r=self.config.lora_r, lora_alpha=self.config.lora_alpha,
                          lora_dropout=0.0, target_modules=targets)


@register("prefix")
class PrefixTuning(_Peft):
    """Prefix tuning (Li & Liang, 2021): trainable key/value prefixes in every layer."""

    def peft_config(self, model):
        from peft import PrefixTuningConfig, TaskType

        return PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=self.config.prefix_length)

    def prepare(self, model):
        return with_prefix_forward(super().prepare(model))


def with_prefix_forward(model):
    """Make a peft prefix-tuning model of an encoder run under transformers 5 as under 4.x.

    transformers 5 renamed the encoders' ``past_key_values`` argument to ``cache``, and peft's
    prefix forward looks for the old name and refuses ("Model does not support past key
    values"). The mechanism itself still works: the prefixes go in as the attention cache and
    the attention mask is widened by the prefix length, which is what peft does under 4.x.
    Models whose forward still takes ``past_key_values`` keep peft's own forward.
    """
    import inspect
    import types

    config = getattr(model, "active_peft_config", None)
    backbone = getattr(model.base_model, model.base_model.base_model_prefix, None)
    if backbone is None or str(getattr(config, "peft_type", "")).rsplit(".", 1)[-1] != "PREFIX_TUNING":
        return model
    names = inspect.signature(backbone.forward).parameters
    if "past_key_values" in names or "cache" not in names:
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


def _attention_projections(model) -> list[str]:
    """Fallback LoRA targets for an architecture peft has no default for: q/v-like linears."""
    import torch

    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    for pair in (("query", "value"), ("q_proj", "v_proj"), ("q_lin", "v_lin"), ("q", "v")):
        if set(pair) <= names:
            return list(pair)
    from ..errors import TrainingError

    raise TrainingError(f"{model.name_or_path}: no query/value projections found for LoRA",
                        hint="this architecture is not supported for LoRA training yet")


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
