"""LoRA (Hu et al., 2022): low-rank updates dW = scale · B A of chosen linear layers.

View: dW itself, independent of rank, alpha and factorisation. Recipe: peft's LoRA on the
architecture's default modules (query/value for BERT) or ``lora_target_modules``, at r = alpha = 8.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from ..terms import LowRank, Term, Vec
from .base import Family, PeftMethod, at_least_one


def view(w) -> Iterator[Term]:
    for layer, params in w.layers.items():
        for kind, param in params:
            if param == "lora_A":
                a, b = params[(kind, "lora_A")], params[(kind, "lora_B")]
                yield LowRank(f"{kind}:dW", w.scales[(layer, kind)] * b, a.T)
            elif param == "lora_B.bias":
                yield Vec(f"{kind}:bias", params[(kind, param)])


@dataclass(frozen=True)
class LoraSettings:
    """How zoo-rank's LoRA runs are set (``--lora-r``, ``--lora-alpha``, ``--lora-target-modules``)."""

    lora_r: int = field(default=8, metadata={"help": "LoRA rank r."})
    lora_alpha: int = field(default=8, metadata={"help": "LoRA alpha (the update is scaled by alpha / r)."})
    lora_target_modules: tuple[str, ...] | None = field(  # None: peft's default for the architecture
        default=None, metadata={"help": "Modules LoRA adapts, comma-separated [default: peft's for the architecture: "
                                        "query,value for BERT]."})

    def __post_init__(self) -> None:
        at_least_one(self, "lora_r", "lora_alpha")
        if self.lora_target_modules is not None:
            object.__setattr__(self, "lora_target_modules", tuple(self.lora_target_modules))


class LoRA(PeftMethod):
    """LoRA on peft's default modules for the architecture (query/value for BERT), or on
    ``lora_target_modules``."""

    def peft_config(self, model):
        from peft import LoraConfig
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

        settings: LoraSettings = self.settings
        targets = list(settings.lora_target_modules) if settings.lora_target_modules else (
            None if model.config.model_type in DEFAULTS else _attention_projections(model))
        return LoraConfig(task_type=self.task_type(model), r=settings.lora_r, lora_alpha=settings.lora_alpha,
                          lora_dropout=0.0, target_modules=targets)


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


def apply(applying) -> None:
    """``W += scale · B A`` (and ``lora_B``'s bias), merged in place."""
    for layer, kind, params, module in applying.each():
        if (kind, "lora_A") in params:
            delta = applying.weights.scales[(layer, kind)] * (applying.tensor(params, kind, "lora_B")
                                                              @ applying.tensor(params, kind, "lora_A"))
            applying.add_to_weight(module, delta, layer, kind)
            if (kind, "lora_B.bias") in params:
                applying.keep(module.bias).add_(applying.tensor(params, kind, "lora_B.bias").to(module.bias))


FAMILY = Family("lora", ("lora",), view, LoRA, (5e-4, 2e-4), LoraSettings, apply=apply)
