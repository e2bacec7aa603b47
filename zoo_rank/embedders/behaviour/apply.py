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

Each family's module does it (its ``apply`` hook, beside ``view`` and ``recipe``), with the
tools ``Applying`` gives. Merged tensors are restored from copies afterwards, so one loaded model
serves every adapter.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np

from ...errors import CheckpointError
from ...weights import AdapterWeights, split_layer

OTHER_MODEL = "is this adapter for another base model? pass its --base-model"


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


class Applying:
    """What a family's ``apply`` hook (``Family.apply``) works with while an adapter is put into a
    loaded base model: ``model``, ``weights``, and the changes below, each undone after the forward
    pass (merged tensors are restored from copies, hooks removed). Checks that say the adapter does
    not fit the base model are one-line ``CheckpointError``s naming the checkpoint."""

    def __init__(self, model, weights: AdapterWeights) -> None:
        self.model = model
        self.weights = weights
        self.saved: list[tuple[object, object]] = []
        self.hooks: list[object] = []
        self._index = module_index(model)

    def keep(self, tensor):
        """``tensor``, after keeping a copy to restore it from."""
        self.saved.append((tensor, tensor.detach().clone()))
        return tensor

    def each(self) -> Iterator[tuple[int, str, dict, object]]:
        """(layer, module kind, that layer's parameters, the base model's module) for every module
        the checkpoint tunes, in order; a module the base model lacks is an error."""
        for layer, params in sorted(self.weights.layers.items()):
            for kind in sorted({k for k, _ in params}):
                yield layer, kind, params, find_module(self._index, layer, kind, self.weights)

    def tensor(self, params: dict, kind: str, name: str):
        """A checkpoint parameter as a float32 torch tensor."""
        import torch

        return torch.as_tensor(np.asarray(params[(kind, name)], dtype=np.float32))

    def add_to_weight(self, module, delta, layer: int, kind: str) -> None:
        """``W += delta`` (transposed for modules that store in × out, as GPT-2's Conv1D does)."""
        weight = module.weight
        if tuple(weight.shape) == tuple(delta.shape):
            self.keep(weight).add_(delta.to(weight))
        elif tuple(weight.shape) == tuple(delta.T.shape):
            self.keep(weight).add_(delta.T.to(weight))
        else:
            raise CheckpointError(self.weights.path, f"layer {layer} {kind}: LoRA update {tuple(delta.shape)} does not "
                                                     f"fit the base model's weight {tuple(weight.shape)}",
                                  hint=OTHER_MODEL)

    def add_to_bias(self, module, delta, layer: int, kind: str) -> None:
        """``b += delta``."""
        bias = getattr(module, "bias", None)
        if bias is None or bias.numel() != delta.numel():
            raise CheckpointError(self.weights.path, f"layer {layer} {kind}: bias delta does not fit the base model")
        self.keep(bias).add_(delta.reshape(bias.shape).to(bias))

    def scale(self, module, scaling, feedforward: bool, layer: int, kind: str) -> None:
        """IA3: a feed-forward module's input (``W[:, j] *= l_j``), else its output (``W[i, :] *= l_i``,
        ``b_i *= l_i``)."""
        weight = module.weight
        out_features, in_features = weight.shape
        if feedforward:
            if scaling.numel() != in_features:
                raise CheckpointError(self.weights.path, f"layer {layer} {kind}: IA3 vector does not fit the module's "
                                                         "input")
            self.keep(weight).mul_(scaling.to(weight).reshape(1, -1))
            return
        if scaling.numel() != out_features:
            raise CheckpointError(self.weights.path, f"layer {layer} {kind}: IA3 vector does not fit the module's output")
        self.keep(weight).mul_(scaling.to(weight).reshape(-1, 1))
        if module.bias is not None:
            self.keep(module.bias).mul_(scaling.to(module.bias))

    def after(self, module, function) -> None:
        """``function(output) -> output`` on ``module``'s output (a forward hook)."""
        self.hooks.append(module.register_forward_hook(lambda _module, _inputs, output: function(output)))

    def misfit(self, message: str) -> CheckpointError:
        """The error for an adapter that does not fit this base model (to raise)."""
        return CheckpointError(self.weights.path, message, hint=OTHER_MODEL)

    @staticmethod
    def with_virtual_tokens(batch: dict, tokens: int) -> dict:
        """The mask (and token types) widened by ``tokens`` leading positions."""
        return with_virtual_tokens(batch, tokens)

    def check_width(self, width: int) -> None:
        """Prompt and prefix vectors must be as wide as the base model's hidden states."""
        if width != self.model.config.hidden_size:
            raise CheckpointError(self.weights.path, f"has {width}-wide prompts; the base model is "
                                                     f"{self.model.config.hidden_size} wide", hint=OTHER_MODEL)


def with_virtual_tokens(batch: dict, tokens: int) -> dict:
    """The mask (and token types) widened by ``tokens`` leading positions."""
    import torch

    batch = dict(batch)
    for key, fill in (("attention_mask", 1), ("token_type_ids", 0)):
        if key in batch:
            value = batch[key]
            lead = torch.full((value.shape[0], tokens), fill, dtype=value.dtype, device=value.device)
            batch[key] = torch.cat((lead, value), dim=1)
    return batch


@contextlib.contextmanager
def applied(model, weights: AdapterWeights) -> Iterator[dict]:
    """Within the block, ``model`` behaves as base model + adapter, put in by its family's
    ``apply`` hook.

    Yields ``{}``, or for prefix and prompt tuning ``{"runner": f, "virtual_tokens": n}``: call
    ``f(**tokenized)`` instead of the model; its hidden states start with ``n`` prompt positions.
    """
    import torch

    from ...families import families

    family = families().get(weights.family)
    if family is None or family.apply is None:
        raise CheckpointError(weights.path, f"its method family {weights.family!r} says nothing of how to put it into a "
                                            "base model (no apply hook), so its behaviour cannot be measured",
                              hint="rank it by its weights (--embedder invariant), or give its family an apply hook "
                                   "(docs/extending.md)")
    applying = Applying(model, weights)
    try:
        with torch.no_grad():
            extra = family.apply(applying) or {}
        yield extra
    finally:
        with torch.no_grad():
            for tensor, original in applying.saved:
                tensor.copy_(original)
        for hook in applying.hooks:
            hook.remove()
