"""zoo-rank's BitFit checkpoint format: read and write.

Neither peft nor adapters has BitFit ("train only the biases"), so zoo-rank defines a small
format, documented in ``docs/formats.md``::

    bitfit_config.json         {"format": "zoo-rank-bitfit", "format_version": 1,
                                "base_model_name_or_path": "...", "values": "delta",
                                "modules_to_save": ["classifier"]}
    bitfit_model.safetensors   {<full parameter name of a bias>: tuned - base, ...}

Biases are stored as deltas from the base model: raw tuned biases are dominated by the base
model's own biases (every task would look alike), and deltas need no base model to embed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import CheckpointError
from ..weights import AdapterWeights, canonical_base_model, split_layer
from .spec import ReaderSpec
from .tensorfile import held, load_safetensors, read_json, sha256_of

CONFIG = "bitfit_config.json"
WEIGHTS = "bitfit_model.safetensors"
FORMAT = "zoo-rank-bitfit"
FORMAT_VERSION = 1


def read_bitfit(directory: Path) -> AdapterWeights:
    config_path = directory / CONFIG
    config = read_json(config_path)
    if config.get("format") != FORMAT:
        raise CheckpointError(config_path, f"has format {config.get('format')!r}, expected {FORMAT!r}")
    if int(config.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(config_path, f"is format version {config.get('format_version')}",
                              hint="upgrade zoo-rank to read it")
    if config.get("values") != "delta":
        raise CheckpointError(config_path, "must store bias deltas (\"values\": \"delta\")",
                              hint="subtract the base model's biases before saving")
    weight_path = directory / WEIGHTS
    if not weight_path.is_file():
        raise CheckpointError(directory, f"has {CONFIG} but no {WEIGHTS}")
    loaded = load_safetensors(weight_path)
    weights = AdapterWeights(
        method="bitfit",
        format=FORMAT,
        path=directory,
        base_model=canonical_base_model(config.get("base_model_name_or_path")),
        config=config,
        files={CONFIG: sha256_of(config_path), WEIGHTS: loaded.sha256},
    )
    head_modules = tuple(config.get("modules_to_save") or ())
    for key in loaded.tensors:
        module, _, leaf = key.rpartition(".")
        layer, kind = split_layer(module)
        if any(module == m or module.endswith("." + m) or module.startswith(m + ".") for m in head_modules):
            weights.head[key] = held(loaded.tensors, key)
        elif leaf != "bias":
            raise CheckpointError(weight_path, f"holds {key!r}, which is not a bias")
        elif layer is None:
            weights.skipped.append(key)
        else:
            weights.put(layer, kind, "bias", loaded.tensors[key].reshape(-1))
    if not weights.layers:
        raise CheckpointError(weight_path, "holds no per-layer bias deltas")
    return weights


def save_bitfit(
    directory: str | Path,
    deltas: Mapping[str, np.ndarray],
    *,
    base_model: str | None,
    head: Mapping[str, np.ndarray] | None = None,
    modules_to_save: list[str] | None = None,
) -> Path:
    """Write a BitFit checkpoint: ``deltas`` maps bias parameter names to tuned − base."""
    import json

    from safetensors.numpy import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in deltas.items()}
    tensors.update({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in (head or {}).items()})
    save_file(tensors, str(directory / WEIGHTS), metadata={"format": "np"})
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "base_model_name_or_path": base_model,
        "values": "delta",
        "modules_to_save": list(modules_to_save or []),
    }
    (directory / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    return directory


READER = ReaderSpec("bitfit", CONFIG, (WEIGHTS,), lambda config: True, read_bitfit)  # read_bitfit checks "format"
