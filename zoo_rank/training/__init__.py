"""Training the missing task embeddings: BitFit, LoRA and prefix tuning on a dataset.

Torch, transformers and peft are needed here (``pip install "zoo-rank[train]"``); nothing
else in zoo-rank imports them.
"""

from __future__ import annotations

from .config import METHOD_NAMES, MODES, PAPER_LEARNING_RATES, TrainConfig
from .loop import TrainResult, train_checkpoint
from .methods import apply_bitfit
from .models import DEFAULT_BASE_MODEL, BaseModel, default_model_dir, resolve_base_model, resolve_device

__all__ = ["DEFAULT_BASE_MODEL", "METHOD_NAMES", "MODES", "PAPER_LEARNING_RATES", "BaseModel", "TrainConfig",
           "TrainResult", "apply_bitfit", "default_model_dir", "resolve_base_model", "resolve_device",
           "train_checkpoint"]
