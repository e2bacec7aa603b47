"""Training the missing task embeddings: BitFit, LoRA and prefix tuning on a dataset.

Torch, transformers and peft are needed here (``pip install "zoo-rank[train]"``); nothing
else in zoo-rank imports them.
"""

from __future__ import annotations

from importlib import import_module

from .config import METHOD_NAMES, MODES, PAPER_LEARNING_RATES, TrainConfig

# The rest imports torch: loaded on first use, so that reading a config (or refusing a bad
# data file) costs no torch import.
_LAZY = {"TrainResult": "loop", "train_checkpoint": "loop", "apply_bitfit": "methods",
         "DEFAULT_BASE_MODEL": "models", "BaseModel": "models", "default_model_dir": "models",
         "resolve_base_model": "models", "resolve_device": "models", "base_model_name": "models",
         "require_training_stack": "stack"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["DEFAULT_BASE_MODEL", "METHOD_NAMES", "MODES", "PAPER_LEARNING_RATES", "BaseModel", "TrainConfig",
           "TrainResult", "apply_bitfit", "base_model_name", "default_model_dir", "require_training_stack",
           "resolve_base_model", "resolve_device", "train_checkpoint"]
