"""``AdapterWeights``: what every reader produces and every embedder consumes.

Readers differ in file layout and key naming; after reading, a tuned tensor is addressed by
its layer index and a *module kind* that is the same for every checkpoint of one base model
(``encoder.layer.*.attention.self.query``), whichever library or model class wrote it.
That shared naming is what lets a PEFT LoRA and an AdapterHub LoRA land in one space, and
what lets two adapters that target different modules still be compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .families import method_families  # each method's family (space): zoo_rank/families/

_LAYER_INDEX = re.compile(r"(?:^|\.)(\d+)(?:\.|$)")
_STACKS = {"encoder", "decoder"}

# Hub ids that were moved under an organisation; both spellings name the same weights.
_BASE_MODEL_ALIASES = {
    "bert-base-uncased": "google-bert/bert-base-uncased",
    "bert-base-cased": "google-bert/bert-base-cased",
    "bert-large-uncased": "google-bert/bert-large-uncased",
    "bert-large-cased": "google-bert/bert-large-cased",
    "bert-base-multilingual-cased": "google-bert/bert-base-multilingual-cased",
    "bert-base-multilingual-uncased": "google-bert/bert-base-multilingual-uncased",
    "distilbert-base-uncased": "distilbert/distilbert-base-uncased",
    "distilbert-base-cased": "distilbert/distilbert-base-cased",
    "distilbert-base-multilingual-cased": "distilbert/distilbert-base-multilingual-cased",
    "roberta-base": "FacebookAI/roberta-base",
    "roberta-large": "FacebookAI/roberta-large",
    "xlm-roberta-base": "FacebookAI/xlm-roberta-base",
    "xlm-roberta-large": "FacebookAI/xlm-roberta-large",
    "gpt2": "openai-community/gpt2",
    "gpt2-medium": "openai-community/gpt2-medium",
    "gpt2-large": "openai-community/gpt2-large",
    "t5-small": "google-t5/t5-small",
    "t5-base": "google-t5/t5-base",
    "t5-large": "google-t5/t5-large",
    "albert-base-v2": "albert/albert-base-v2",
}


def canonical_base_model(name: str | None) -> str | None:
    """Normalise a base-model reference so that spellings of one model compare equal.

    Local paths written into configs by training scripts (``/content/drive/.../bert-base-uncased``)
    keep only their last component; legacy hub ids map to their current ``org/name``.
    """
    if not name or not str(name).strip():
        return None
    name = str(name).strip().rstrip("/\\")
    looks_like_path = name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1
    if looks_like_path:
        name = re.split(r"[/\\]", name)[-1]
    return _BASE_MODEL_ALIASES.get(name, _BASE_MODEL_ALIASES.get(name.lower(), name))


def split_layer(module_path: str) -> tuple[int | None, str]:
    """Split a module path into (layer index, module kind).

    The layer index is the first numeric path segment; the kind keeps the name of the layer
    stack (``layer``, ``h``, ``layers``, ``block``; ``encoder``/``decoder`` when present) and
    everything after the index, so model-class prefixes (``bert.``, ``distilbert.``,
    ``model.``) do not matter. Paths without an index (embeddings, heads) get ``None``.
    """
    match = _LAYER_INDEX.search(module_path)
    if match is None:
        return None, module_path
    before = module_path[: match.start()].split(".") if match.start() else []
    after = module_path[match.end() :]
    stack = before[-1:] if before else []
    if len(before) >= 2 and before[-2] in _STACKS:
        stack = before[-2:]
    kind = ".".join([*stack, "*"] + ([after] if after else []))
    return int(match.group(1)), kind


@dataclass
class AdapterWeights:
    """The tuned parameters of one checkpoint, normalised across libraries.

    ``layers[i][(kind, param)]`` holds per-layer tuned tensors (float32): e.g.
    ``("encoder.layer.*.attention.self.query", "lora_A")``. ``scales`` holds the multiplier of
    the low-rank product for LoRA modules (alpha/r, alpha/sqrt(r) for rsLoRA).
    ``inputs`` holds tuned tensors that sit before the first layer (prompt embeddings).
    ``head`` holds classification heads and other ``modules_to_save``: read, kept apart,
    never embedded. ``skipped`` lists tuned tensors outside the layers that are not embedded.
    """

    method: str
    format: str
    path: Path
    base_model: str | None
    config: dict
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    layers: dict[int, dict[tuple[str, str], np.ndarray]] = field(default_factory=dict)
    scales: dict[tuple[int, str], float] = field(default_factory=dict)
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    head: dict[str, np.ndarray] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)  # reader facts worth showing (rank, alpha, modules)

    @property
    def family(self) -> str:
        return method_families()[self.method]

    def put(self, layer: int, kind: str, param: str, tensor: np.ndarray) -> None:
        self.layers.setdefault(layer, {})[(kind, param)] = tensor

    def module_kinds(self) -> list[str]:
        return sorted({kind for tensors in self.layers.values() for kind, _ in tensors})

    def check_finite(self) -> None:
        """NaN or Inf in a tuned tensor (a diverged run) makes every similarity meaningless."""
        from .errors import CheckpointError

        tensors = [(f"layer {i} {k[0]}.{k[1]}", t) for i, per in self.layers.items() for k, t in per.items()]
        tensors += list(self.inputs.items())
        for where, tensor in tensors:
            if tensor.dtype.kind == "f" and not np.isfinite(tensor).all():
                raise CheckpointError(self.path, f"has NaN or infinite weights ({where})",
                                      hint="the training run diverged; use another checkpoint")

    def num_tuned_values(self) -> int:
        layered = sum(t.size for tensors in self.layers.values() for t in tensors.values())
        return layered + sum(t.size for t in self.inputs.values())

    def content_sha256(self) -> str:
        """Hash of the files that determine the embedding (config and adapter weights)."""
        import hashlib

        lines = "".join(f"{name}\0{digest}\n" for name, digest in sorted(self.files.items()))
        return hashlib.sha256(lines.encode()).hexdigest()

    def arch_fingerprint(self) -> str:
        """A stand-in base-model id when the checkpoint names none: hidden width and depth.

        The smallest "largest dimension" over the tuned tensors is the hidden size for every
        method here (attention projections, bottleneck down-projections, prefixes, biases).
        """
        tensors = [t for per_layer in self.layers.values() for t in per_layer.values()]
        tensors += list(self.inputs.values())
        width = min((max(t.shape) for t in tensors if t.ndim), default=0)
        depth = max(self.layers, default=-1) + 1
        return f"unknown:h{width}-l{depth}"
