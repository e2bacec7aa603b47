"""Put an adapter's ``AdapterWeights`` into a loaded base model, for one forward pass, and take it out again.

Every method zoo-rank reads is applied the way its library runs it, to the modules its
checkpoint names (matched by layer and module kind, ``weights.split_layer``):

* LoRA: ``W += scale · B A`` (and ``lora_B``'s bias), merged in place.
* BitFit: ``b += delta``.
* IA3: peft scales a feed-forward module's input (``W[:, j] *= l_j``) and every other module's
  output (``W[i, :] *= l_i``, ``b_i *= l_i``); AdapterHub's IA3 scales outputs.
* Bottleneck: ``h + up(act(down(h)))`` on the output of the module's ``dense`` projection,
  before the residual LayerNorm (Houlsby's placement; AdapterHub's Pfeiffer variant puts it
  after the LayerNorm, which this approximates).
* Prefix tuning: per-layer key and value prefixes as the attention cache, built by peft.
* Prompt tuning: prompt vectors before the input embeddings; the virtual positions are
  dropped from the hidden states.

Merged tensors are restored from copies afterwards, so one loaded model serves every adapter.
"""

from __future__ import annotations

import contextlib
import re
from typing import Iterator

import numpy as np

from ...errors import CheckpointError
from ...families.prefix import cache_argument
from ...weights import AdapterWeights, split_layer

OTHER_MODEL = "is this adapter for another base model? pass its --base-model"
_ACTIVATIONS = {"relu": "relu", "gelu": "gelu", "gelu_new": "gelu", "swish": "silu", "silu": "silu",
                "tanh": "tanh", "sigmoid": "sigmoid", "leakyrelu": "leaky_relu", "leaky_relu": "leaky_relu"}


def module_index(model) -> dict[int, dict[str, object]]:
    """layer → {module kind: module}, for every module inside the model's layer stacks."""
    index: dict[int, dict[str, object]] = {}
    for name, module in model.named_modules():
        layer, kind = split_layer(name)
        if layer is not None:
            index.setdefault(layer, {}).setdefault(kind, module)
    return index


def find_module(index: dict, layer: int, kind: str, weights: AdapterWeights):
    """The module a checkpoint's (layer, kind) names; a kind written from a task model
    (``bert.encoder.layer.*``) or a bare encoder (``layer.*``) matches on its stack suffix."""
    modules = index.get(layer, {})
    if kind in modules:
        return modules[kind]
    for have, module in modules.items():
        if have.endswith("." + kind) or kind.endswith("." + have):
            return module
    raise CheckpointError(weights.path, f"tunes layer {layer} {kind}, which the base model does not have",
                          hint=OTHER_MODEL)


@contextlib.contextmanager
def applied(model, weights: AdapterWeights) -> Iterator[dict]:
    """Within the block, ``model`` behaves as base model + adapter.

    Yields ``{}``, or for prefix and prompt tuning ``{"runner": f, "virtual_tokens": n}``: call
    ``f(**tokenized)`` instead of the model; its hidden states start with ``n`` prompt positions.
    """
    import torch

    saved: list[tuple[torch.Tensor, torch.Tensor]] = []
    hooks = []
    index = module_index(model)

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        saved.append((tensor, tensor.detach().clone()))
        return tensor

    try:
        with torch.no_grad():
            extra = _apply(model, weights, index, keep, hooks)
        yield extra
    finally:
        with torch.no_grad():
            for tensor, original in saved:
                tensor.copy_(original)
        for hook in hooks:
            hook.remove()


def _apply(model, weights: AdapterWeights, index, keep, hooks) -> dict:
    import torch

    family = weights.family
    if family == "prefix":
        return {"runner": _prefix_runner(model, weights), "virtual_tokens": 0}
    if family == "prompt":
        return {"runner": _prompt_runner(model, weights), "virtual_tokens": len(weights.inputs["prompt"])}
    ff_patterns = _feedforward_patterns(weights) if family == "ia3" else []
    for layer, params in sorted(weights.layers.items()):
        for kind in sorted({k for k, _ in params}):
            module = find_module(index, layer, kind, weights)
            get = lambda p: torch.as_tensor(np.asarray(params[(kind, p)], dtype=np.float32))  # noqa: E731
            if family == "lora" and (kind, "lora_A") in params:
                delta = weights.scales[(layer, kind)] * (get("lora_B") @ get("lora_A"))
                _add_to_weight(module, delta, keep, weights, layer, kind)
                if (kind, "lora_B.bias") in params:
                    keep(module.bias).add_(get("lora_B.bias").to(module.bias))
            elif family == "bitfit":
                bias = getattr(module, "bias", None)
                if bias is None or bias.numel() != params[(kind, "bias")].size:
                    raise CheckpointError(weights.path, f"layer {layer} {kind}: bias delta does not fit the base model")
                keep(bias).add_(get("bias").reshape(bias.shape).to(bias))
            elif family == "ia3":
                _scale(module, get("ia3_l"), _is_feedforward(kind, ff_patterns), keep, weights, layer, kind)
            elif family == "bottleneck" and (kind, "down.weight") in params:
                hooks.append(_bottleneck_hook(module, params, kind, weights))
    return {}


def _add_to_weight(module, delta, keep, weights, layer, kind) -> None:
    weight = module.weight
    if tuple(weight.shape) == tuple(delta.shape):
        keep(weight).add_(delta.to(weight))
    elif tuple(weight.shape) == tuple(delta.T.shape):  # GPT-2's Conv1D stores in × out
        keep(weight).add_(delta.T.to(weight))
    else:
        raise CheckpointError(weights.path, f"layer {layer} {kind}: LoRA update {tuple(delta.shape)} does not fit the "
                                            f"base model's weight {tuple(weight.shape)}",
                              hint=OTHER_MODEL)


def _feedforward_patterns(weights: AdapterWeights) -> list[str]:
    modules = weights.config.get("feedforward_modules") if weights.format == "peft" else None
    if isinstance(modules, str):
        return [modules]
    return [str(m) for m in modules or ()]


def _is_feedforward(kind: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if len(patterns) == 1 and not re.fullmatch(r"[\w.]+", pattern):
            if re.fullmatch(pattern, kind.replace("*", "0")) or re.search(pattern, kind):
                return True
        elif kind == pattern or kind.endswith("." + pattern):
            return True
    return False


def _scale(module, scaling, feedforward: bool, keep, weights, layer, kind) -> None:
    weight = module.weight
    out_features, in_features = weight.shape
    if feedforward:
        if scaling.numel() != in_features:
            raise CheckpointError(weights.path, f"layer {layer} {kind}: IA3 vector does not fit the module's input")
        keep(weight).mul_(scaling.to(weight).reshape(1, -1))
        return
    if scaling.numel() != out_features:
        raise CheckpointError(weights.path, f"layer {layer} {kind}: IA3 vector does not fit the module's output")
    keep(weight).mul_(scaling.to(weight).reshape(-1, 1))
    if module.bias is not None:
        keep(module.bias).mul_(scaling.to(module.bias))


def _bottleneck_hook(module, params, kind, weights: AdapterWeights):
    import torch

    target = getattr(module, "dense", module)
    tensor = lambda name: torch.as_tensor(np.asarray(params[(kind, name)], dtype=np.float32))  # noqa: E731
    down_w, up_w = tensor("down.weight"), tensor("up.weight")
    down_b = tensor("down.bias") if (kind, "down.bias") in params else None
    up_b = tensor("up.bias") if (kind, "up.bias") in params else None
    config = weights.config.get("config") if isinstance(weights.config.get("config"), dict) else weights.config
    name = str(config.get("non_linearity", "relu")).lower()
    activation = getattr(torch.nn.functional, _ACTIVATIONS.get(name, "relu"))

    def hook(_module, _inputs, output):
        h = output
        z = activation(torch.nn.functional.linear(h, down_w.to(h), None if down_b is None else down_b.to(h)))
        return h + torch.nn.functional.linear(z, up_w.to(h), None if up_b is None else up_b.to(h))

    return target.register_forward_hook(hook)


def _check_width(model, weights: AdapterWeights, width: int) -> None:
    if width != model.config.hidden_size:
        raise CheckpointError(weights.path, f"has {width}-wide prompts; the base model is {model.config.hidden_size} wide",
                              hint=OTHER_MODEL)


def _with_virtual_tokens(batch: dict, tokens: int) -> dict:
    """The mask (and token types) widened by ``tokens`` leading positions."""
    import torch

    batch = dict(batch)
    for key, fill in (("attention_mask", 1), ("token_type_ids", 0)):
        if key in batch:
            value = batch[key]
            lead = torch.full((value.shape[0], tokens), fill, dtype=value.dtype, device=value.device)
            batch[key] = torch.cat((lead, value), dim=1)
    return batch


def _prompt_runner(model, weights: AdapterWeights):
    """Prompt tuning: the prompt vectors go in before the input embeddings, the mask widened."""
    import torch

    prompt = torch.as_tensor(np.asarray(weights.inputs["prompt"], dtype=np.float32))
    _check_width(model, weights, prompt.shape[1])

    def run(input_ids, **batch):
        embeds = model.get_input_embeddings()(input_ids)
        lead = prompt.to(embeds).unsqueeze(0).expand(embeds.shape[0], -1, -1)
        return model(inputs_embeds=torch.cat((lead, embeds), dim=1), **_with_virtual_tokens(batch, len(prompt)))

    return run


def _prefix_runner(model, weights: AdapterWeights):
    """Prefix tuning: peft builds the per-layer key/value cache in the form this transformers
    release takes (``past_key_values`` up to 4.x, ``cache`` for encoders in 5); the attention
    mask is widened by the prefix length, as peft does."""
    import torch
    from peft import PeftModelForFeatureExtraction, PrefixTuningConfig, TaskType
    from peft.utils import set_peft_model_state_dict

    config = model.config
    layers = sorted(weights.layers)
    if layers != list(range(config.num_hidden_layers)):
        raise CheckpointError(weights.path, f"has prefixes for {len(layers)} layers; the base model has "
                                            f"{config.num_hidden_layers}",
                              hint=OTHER_MODEL)
    per_layer = []
    for layer in layers:
        params = weights.layers[layer]
        kind = next(k for k, p in params if p == "key")
        per_layer += [params[(kind, "key")], params[(kind, "value")]]
    _check_width(model, weights, per_layer[0].shape[1])
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
        widened = _with_virtual_tokens({"attention_mask": attention_mask}, tokens)
        return model(input_ids=input_ids, **widened, **batch, **{argument: wrapped.get_prompt(len(input_ids))})

    return run
