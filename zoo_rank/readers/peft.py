"""Reader for PEFT checkpoints: LoRA (incl. rsLoRA, DoRA, alpha/rank patterns), prefix
tuning, prompt tuning, P-tuning and IA3, as ``adapter_model.safetensors`` or ``.bin``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import CheckpointError
from ..weights import AdapterWeights, canonical_base_model, split_layer
from .checks import number_patterns, positive_int, positive_number, tensor_rank
from .spec import ReaderSpec
from .tensorfile import Renamed, held, load_tensor_file, read_json, sha256_of, weight_file

CONFIG = "adapter_config.json"
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")

# Self-attention prefixes; AdapterHub names its pool location the same way.
PREFIX_KIND = "prefix.self_prefix"

_PEFT_METHODS = {
    "LORA": "lora",
    "PREFIX_TUNING": "prefix_tuning",
    "PROMPT_TUNING": "prompt_tuning",
    "P_TUNING": "p_tuning",
    "IA3": "ia3",
}
_LORA_KEY = re.compile(
    r"^(?P<module>.+?)\.(?P<param>lora_A|lora_B|lora_embedding_A|lora_embedding_B|lora_magnitude_vector)"
    r"(?:\.(?P<adapter>(?!weight$|bias$)[^.]+))?(?:\.(?P<leaf>weight|bias))?$"
)
_IA3_KEY = re.compile(r"^(?P<module>.+?)\.ia3_l(?:\.[^.]+)?$")


def is_peft_config(config: dict) -> bool:
    return "peft_type" in config


def _strip_wrapper(key: str) -> str:
    for prefix in ("base_model.model.", "base_model."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def _require(config: dict, path: Path, *fields: str) -> None:
    missing = [f for f in fields if config.get(f) is None]
    if missing:
        raise CheckpointError(
            path, f"misses {', '.join(missing)}", hint="re-save the adapter with peft's save_pretrained()"
        )


def _pattern_value(patterns: dict[str, float], module: str, default: float) -> float:
    """PEFT's alpha_pattern lookup: a key matches a module path by regex on its tail."""
    for pattern, value in patterns.items():
        if re.match(rf"(.*\.)?({pattern})$", module):
            return value
    return default


def read_peft(directory: Path) -> AdapterWeights:
    config_path = directory / CONFIG
    config = read_json(config_path)
    peft_type = str(config.get("peft_type", "")).upper()
    method = _PEFT_METHODS.get(peft_type)
    if method is None:
        raise CheckpointError(
            config_path,
            f"has peft_type {config.get('peft_type')!r}, which zoo-rank cannot embed",
            hint=f"supported: {', '.join(sorted(_PEFT_METHODS))}",
        )
    weight_path = weight_file(directory, WEIGHT_FILES, required_by=CONFIG)
    if method == "lora":
        _require(config, config_path, "lora_alpha")
    if method == "prefix_tuning":
        _require(config, config_path, "num_layers")
    loaded = load_tensor_file(weight_path)
    weights = AdapterWeights(
        method=method,
        format="peft",
        path=directory,
        base_model=canonical_base_model(config.get("base_model_name_or_path")),
        config=config,
        files={CONFIG: sha256_of(config_path), weight_path.name: loaded.sha256},
        info={"peft_type": peft_type, "peft_task_type": config.get("task_type")},
    )
    tensors = Renamed(loaded.tensors, _strip_wrapper)
    if method == "lora":
        _read_lora(weights, tensors, config, weight_path)
    elif method == "ia3":
        _read_ia3(weights, tensors, weight_path)
    elif method == "prefix_tuning":
        _read_prefix(weights, tensors, config, weight_path)
    else:
        _read_prompt(weights, tensors, weight_path)
    if not weights.layers and not weights.inputs:
        raise CheckpointError(
            weight_path,
            f"holds no tuned {peft_type} parameters ({len(weights.head)} head tensors only)",
            hint="check that this is the adapter and not a merged or head-only file",
        )
    return weights


def _read_lora(weights: AdapterWeights, tensors: Mapping, config: dict, path: Path) -> None:
    modules: dict[str, dict[str, np.ndarray]] = {}
    for key in tensors:
        match = _LORA_KEY.match(key)
        if match is None:
            weights.head[key] = held(tensors, key)
            continue
        tensor = tensors[key]
        param = match["param"] + (".bias" if match["leaf"] == "bias" else "")
        modules.setdefault(match["module"], {})[param] = tensor
    use_rslora = bool(config.get("use_rslora"))
    config_path = path.parent / CONFIG
    default_alpha = positive_number(config["lora_alpha"], "lora_alpha", config_path)
    alpha_pattern = number_patterns(config.get("alpha_pattern"), "alpha_pattern", config_path)
    ranks, targets = set(), set()
    for module, params in sorted(modules.items()):
        layer, kind = split_layer(module)
        if "lora_embedding_A" in params or layer is None:
            weights.skipped.append(module)
            continue
        a, b = params.get("lora_A"), params.get("lora_B")
        if a is None or b is None:
            raise CheckpointError(path, f"module {module!r} has only one of lora_A / lora_B")
        tensor_rank(a.shape, f"module {module!r} lora_A", path)
        tensor_rank(b.shape, f"module {module!r} lora_B", path)
        a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
        if a.shape[0] != b.shape[1]:
            raise CheckpointError(path, f"module {module!r}: lora_A {a.shape} and lora_B {b.shape} disagree on rank")
        rank = a.shape[0]
        alpha = _pattern_value(alpha_pattern, module, default_alpha)
        weights.put(layer, kind, "lora_A", a)
        weights.put(layer, kind, "lora_B", b)
        if "lora_B.bias" in params:
            weights.put(layer, kind, "lora_B.bias", params["lora_B.bias"])
        weights.scales[(layer, kind)] = alpha / (np.sqrt(rank) if use_rslora else rank)
        ranks.add(rank)
        targets.add(kind.rsplit(".", 1)[-1])
    weights.info.update(
        rank=sorted(ranks), lora_alpha=config.get("lora_alpha"), target_modules=sorted(targets),
        use_rslora=use_rslora, use_dora=bool(config.get("use_dora")),
    )


def _read_ia3(weights: AdapterWeights, tensors: Mapping, path: Path) -> None:
    for key in tensors:
        match = _IA3_KEY.match(key)
        layer, kind = split_layer(match["module"]) if match else (None, key)
        if match is None or layer is None:
            weights.head[key] = held(tensors, key)
            continue
        weights.put(layer, kind, "ia3_l", tensors[key].reshape(-1))


def _read_prefix(weights: AdapterWeights, tensors: Mapping, config: dict, path: Path) -> None:
    prompt = _take_prompt(weights, tensors, path)
    num_layers = positive_int(config["num_layers"], "num_layers", path.parent / CONFIG)
    tokens, width = prompt.shape
    if width % (2 * num_layers):
        raise CheckpointError(
            path, f"prompt_embeddings width {width} is not 2 × num_layers ({num_layers}) × hidden"
        )
    kv = prompt.reshape(tokens, 2 * num_layers, width // (2 * num_layers))
    for layer in range(num_layers):
        weights.put(layer, PREFIX_KIND, "key", kv[:, 2 * layer])
        weights.put(layer, PREFIX_KIND, "value", kv[:, 2 * layer + 1])
    weights.info.update(num_virtual_tokens=tokens, num_layers=num_layers)


def _read_prompt(weights: AdapterWeights, tensors: Mapping, path: Path) -> None:
    prompt = _take_prompt(weights, tensors, path)
    weights.inputs["prompt"] = prompt
    weights.info.update(num_virtual_tokens=prompt.shape[0])


def _take_prompt(weights: AdapterWeights, tensors: Mapping, path: Path) -> np.ndarray:
    prompt = None
    for key in tensors:
        if key.split(".")[0] == "prompt_embeddings":
            prompt = tensors[key]
        else:
            weights.head[key] = held(tensors, key)
    if prompt is None or prompt.ndim != 2:
        raise CheckpointError(path, "has no 2-D prompt_embeddings tensor", hint="is this a prompt-learning adapter?")
    return prompt


READER = ReaderSpec("peft", CONFIG, WEIGHT_FILES, is_peft_config, read_peft)
