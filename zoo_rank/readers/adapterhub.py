"""Reader for AdapterHub ``adapters`` checkpoints (``save_adapter``): bottleneck adapters
(sequential, parallel, Houlsby/Pfeiffer), LoRA, IA3 and prefix tuning, with heads kept apart.

Prefix tuning is stored as a reparametrisation (an embedding pool run through the
``control_trans`` MLP); the per-layer key/value prefixes are what the model uses, so the
MLP is evaluated here in numpy.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import CheckpointError
from ..weights import AdapterWeights, canonical_base_model, split_layer
from .checks import positive_number, tensor_rank
from .spec import ReaderSpec
from .tensorfile import held, load_tensor_file, read_json, sha256_of, weight_file

CONFIG = "adapter_config.json"
WEIGHT_FILES = ("adapter.safetensors", "pytorch_adapter.bin")
HEAD_FILES = ("model_head.safetensors", "pytorch_model_head.bin")

_ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    "gelu_orig": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    "gelu_new": lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    "leakyrelu": lambda x: np.where(x > 0, x, 0.01 * x),
    "linear": lambda x: x,
    "identity": lambda x: x,
}


def is_adapterhub_config(config: dict) -> bool:
    return "peft_type" not in config and isinstance(config.get("config"), dict) and (
        "model_name" in config or "model_class" in config or "name" in config
    )


def read_adapterhub(directory: Path) -> AdapterWeights:
    config_path = directory / CONFIG
    meta = read_json(config_path)
    missing = [f for f in ("config", "name") if not meta.get(f)]
    if missing or not isinstance(meta["config"], dict):
        raise CheckpointError(config_path, f"misses {', '.join(missing) or 'config'}",
                              hint="re-save the adapter with adapters' save_adapter()")
    config = meta["config"]
    method = _method_of(config, config_path)
    weight_path = weight_file(directory, WEIGHT_FILES, required_by=CONFIG)
    loaded = load_tensor_file(weight_path)
    weights = AdapterWeights(
        method=method,
        format="adapterhub",
        path=directory,
        base_model=canonical_base_model(meta.get("model_name")),
        config=meta,
        files={CONFIG: sha256_of(config_path), weight_path.name: loaded.sha256},
        info={"adapter_name": meta["name"], "architecture": config.get("architecture") or "bottleneck"},
    )
    name = re.escape(str(meta["name"]))
    if method == "prefix_tuning":
        _read_prefix(weights, loaded.tensors, config, name, weight_path)
    else:
        _read_layered(weights, loaded.tensors, config, name, weight_path)
    _read_head(weights, directory)
    if not weights.layers:
        raise CheckpointError(weight_path, f"holds no tensors of adapter {meta['name']!r}",
                              hint="the adapter name in adapter_config.json must match the weight keys")
    return weights


def _method_of(config: dict, config_path: Path) -> str:
    architecture = config.get("architecture") or "bottleneck"
    if architecture == "bottleneck":
        if config.get("phm_layer"):
            raise CheckpointError(config_path, "is a Compacter (PHM) adapter, which zoo-rank cannot embed yet")
        return "bottleneck"
    if architecture == "lora":
        return "ia3" if config.get("composition_mode") == "scale" else "lora"
    if architecture == "prefix_tuning":
        return "prefix_tuning"
    raise CheckpointError(
        config_path,
        f"has architecture {architecture!r}, which zoo-rank cannot embed",
        hint="supported AdapterHub methods: bottleneck, lora, ia3, prefix_tuning",
    )


def _read_layered(weights: AdapterWeights, tensors: Mapping, config: dict, name: str, path: Path) -> None:
    bottleneck = re.compile(rf"^(?P<module>.+)\.adapters\.{name}\.(?P<param>.+)$")
    lora = re.compile(rf"^(?P<module>.+)\.loras\.{name}\.(?P<param>lora_[AB])$")
    pattern = bottleneck if weights.method == "bottleneck" else lora
    ranks = set()
    for key in tensors:
        match = pattern.match(key)
        layer, kind = split_layer(match["module"]) if match else (None, key)
        if match is None:
            weights.head[key] = held(tensors, key)
            continue
        if layer is None:
            weights.skipped.append(key)
            continue
        param, tensor = match["param"], tensors[key]
        if weights.method == "bottleneck":
            param = param.replace("adapter_down.0.", "down.").replace("adapter_up.", "up.")
            weights.put(layer, kind, param, tensor)
        elif weights.method == "ia3":
            if param == "lora_B":
                weights.put(layer, kind, "ia3_l", tensor.reshape(-1))
        else:
            weights.put(layer, kind, param, tensor)
    if weights.method == "lora":
        if config.get("alpha") is None:
            raise CheckpointError(path.parent / CONFIG, "misses config.alpha")
        alpha = positive_number(config["alpha"], "config.alpha", path.parent / CONFIG)
        for layer, params in weights.layers.items():
            for kind, param in list(params):
                if param == "lora_A":
                    if (kind, "lora_B") not in params:
                        raise CheckpointError(path, f"layer {layer} {kind}: lora_A without lora_B")
                    tensor_rank(params[(kind, param)].shape, f"layer {layer} {kind} lora_A", path)
                    rank = params[(kind, param)].shape[0]
                    ranks.add(rank)
                    weights.scales[(layer, kind)] = alpha / rank
        weights.info.update(rank=sorted(ranks), alpha=config["alpha"])
    elif weights.method == "bottleneck":
        for layer, params in weights.layers.items():
            for kind, param in params:
                if param == "down.weight":
                    ranks.add(params[(kind, param)].shape[0])
        weights.info.update(bottleneck_size=sorted(ranks), reduction_factor=config.get("reduction_factor"))


def _read_prefix(weights: AdapterWeights, tensors: Mapping, config: dict, name: str, path: Path) -> None:
    # Every layer's state dict repeats the shared pool; one copy per location is enough.
    pool = re.compile(rf"(?:^|\.)prefix_tunings\.{name}\.(?P<location>[^.]+)\.(?P<param>.+)$")
    locations: dict[str, dict[str, np.ndarray]] = {}
    for key in tensors:
        match = pool.search(key)
        if match is None:
            weights.head[key] = held(tensors, key)
            continue
        if match["param"] not in locations.setdefault(match["location"], {}):
            locations[match["location"]][match["param"]] = tensors[key]
    length = config.get("prefix_length")
    if not isinstance(length, int) or length <= 0:
        raise CheckpointError(path.parent / CONFIG, "misses config.prefix_length")
    for location, params in sorted(locations.items()):
        if "control_trans" in params:  # flat: the prefixes themselves
            flat = params["control_trans"].reshape(length, -1)
            width = None
        else:
            try:
                emb = params["wte.weight"]
                w0, b0 = params["control_trans.0.weight"], params["control_trans.0.bias"]
                w2, b2 = params["control_trans.2.weight"], params["control_trans.2.bias"]
            except KeyError as exc:
                raise CheckpointError(path, f"prefix pool {location!r} misses {exc.args[0]}") from exc
            activation = _ACTIVATIONS.get(str(config.get("non_linearity", "tanh")).lower())
            if activation is None:
                raise CheckpointError(path.parent / CONFIG, f"has unknown non_linearity {config.get('non_linearity')!r}")
            flat = activation(emb @ w0.T + b0) @ w2.T + b2
            width = emb.shape[1]
        hidden = width or _infer_hidden(weights, flat.shape[1])
        if flat.shape[1] % (2 * hidden):
            raise CheckpointError(path, f"prefix pool {location!r} width {flat.shape[1]} is not 2 × layers × {hidden}")
        num_layers = flat.shape[1] // (2 * hidden)
        kv = flat.reshape(length, 2 * num_layers, hidden).astype(np.float32)
        for layer in range(num_layers):
            weights.put(layer, f"prefix.{location}", "key", kv[:, 2 * layer])
            weights.put(layer, f"prefix.{location}", "value", kv[:, 2 * layer + 1])
    weights.info.update(prefix_length=length, flat=bool(config.get("flat")))


def _infer_hidden(weights: AdapterWeights, width: int) -> int:
    hidden = weights.config.get("hidden_size")
    if not isinstance(hidden, int) or hidden <= 0:
        raise CheckpointError(weights.path / CONFIG, "is a flat prefix without hidden_size")
    return hidden


def _read_head(weights: AdapterWeights, directory: Path) -> None:
    head_path = weight_file(directory, HEAD_FILES)
    if head_path is None:
        return
    head = load_tensor_file(head_path)
    weights.head.update({key: held(head.tensors, key) for key in head.tensors})
    if (directory / "head_config.json").is_file():
        head_config = read_json(directory / "head_config.json").get("config") or {}
        weights.info["head"] = {k: head_config.get(k) for k in ("head_type", "num_labels") if k in head_config}


READER = ReaderSpec("adapterhub", CONFIG, WEIGHT_FILES, is_adapterhub_config, read_adapterhub,
                    extra=("head_config.json",))
