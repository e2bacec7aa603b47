"""zoo-rank: rank candidate source tasks for intermediate-task transfer from adapter weights.

The public API is loaded lazily so that ``zoo-rank --help`` and ranking from the registry
never pay for (or import) torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from .version import __version__

_EXPORTS = {
    "add": "zoo_rank.api",
    "rank": "zoo_rank.api",
    "train": "zoo_rank.api",
    "pull": "zoo_rank.pipeline.hub",
    "refresh": "zoo_rank.pipeline.hub",
    "search_hub": "zoo_rank.pipeline.hub",
    "load_catalog": "zoo_rank.catalog",
    "HubError": "zoo_rank.hub.ids",
    "load_data": "zoo_rank.datasets",
    "TrainConfig": "zoo_rank.training.config",
    "training_settings": "zoo_rank.training.config",
    "resolve_target": "zoo_rank.targets",
    "Target": "zoo_rank.targets",
    "read_checkpoint": "zoo_rank.readers",
    "find_checkpoints": "zoo_rank.readers",
    "save_bitfit": "zoo_rank.readers",
    "embed": "zoo_rank.embedders",
    "cosine": "zoo_rank.embedders",
    "Space": "zoo_rank.embedders",
    "TaskEmbedding": "zoo_rank.embedders",
    "AdapterWeights": "zoo_rank.weights",
    "Registry": "zoo_rank.registry",
    "Ranking": "zoo_rank.ranker",
    "Candidate": "zoo_rank.ranker",
    "ZooRankError": "zoo_rank.errors",
    "CheckpointError": "zoo_rank.errors",
    "DataError": "zoo_rank.errors",
    "TrainingError": "zoo_rank.errors",
    "RegistryError": "zoo_rank.errors",
    "RankingError": "zoo_rank.errors",
    "SpaceMismatchError": "zoo_rank.errors",
    "get_executor": "zoo_rank.executors",
    "load_builtin": "zoo_rank.datasets",
    "describe_tasks": "zoo_rank.datasets",
    "to_csv": "zoo_rank.datasets",
    "export_text": "zoo_rank.datasets",
    "needed_assets": "zoo_rank.datasets",
    "fetch_asset": "zoo_rank.assets:fetch",
    "locate_asset": "zoo_rank.assets:locate",
    "embed_registered": "zoo_rank.pipeline.backfill",
    "build_builtin": "zoo_rank.pipeline.builtin:build",
    "TASKS": "zoo_rank.datasets",
    "TaskCollection": "zoo_rank.datasets",
    "all_embedders": "zoo_rank.embedders",
    "executor_names": "zoo_rank.executors",
    "backend_names": "zoo_rank.index",
    "RetryPolicy": "zoo_rank.hub",
    "prior_document": "zoo_rank.prior",
    "CATALOG_TASK_TYPES": "zoo_rank.catalog:TASK_TYPES",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from .api import add, rank, train
    from .targets import Target, resolve_target
    from .catalog import load_catalog
    from .hub.ids import HubError
    from .pipeline.hub import pull, refresh, search_hub
    from .datasets import load_data
    from .training.config import TrainConfig, training_settings
    from .embedders import Space, TaskEmbedding, cosine, embed
    from .errors import (CheckpointError, DataError, RankingError, RegistryError, SpaceMismatchError, TrainingError,
                         ZooRankError)
    from .assets import fetch as fetch_asset, locate as locate_asset
    from .datasets import needed_assets
    from .pipeline.backfill import embed_registered
    from .pipeline.builtin import build as build_builtin
    from .datasets import describe_tasks, export_text, load_builtin, to_csv
    from .catalog import TASK_TYPES as CATALOG_TASK_TYPES
    from .datasets import TASKS, TaskCollection
    from .embedders import all_embedders
    from .executors import executor_names, get_executor
    from .hub import RetryPolicy
    from .index import backend_names
    from .prior import prior_document
    from .ranker import Candidate, Ranking
    from .readers import find_checkpoints, read_checkpoint, save_bitfit
    from .registry import Registry
    from .weights import AdapterWeights


def __getattr__(name: str):
    if name in _EXPORTS:
        module, _, attribute = _EXPORTS[name].partition(":")
        return getattr(import_module(module), attribute or name)
    raise AttributeError(f"module 'zoo_rank' has no attribute {name!r}")
