"""What a ranking target is, resolved once.

``zoo-rank --target T`` and ``zoo_rank.rank(T)`` accept a registry name, a data file or task
folder (trained on the fly), a checkpoint folder (embedded on the fly), a registered task, or a
built-in task; ``resolve_target`` decides which, in that order, and returns a ``Target`` the
ranker takes as it is: its embeddings and the entries it must never be ranked against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .pipeline.backfill import embeddings_on_demand
from .embedders import DEFAULT_EMBEDDER, embed
from .errors import RankingError
from .readers import WEIGHT_SUFFIXES, read_checkpoint
from .registry import Entry, Registry
from .spaces import TaskEmbedding
from .weights import canonical_base_model


@dataclass
class Target:
    """A ranking target, resolved once: what it was (``kind``), its embeddings (one per space),
    and the entries it must not be ranked against (itself, and anything trained on its data)."""

    label: str
    kind: str  # "entry", "data" (a file, a task folder or a built-in task, trained), "checkpoint" or "task"
    embeddings: list[TaskEmbedding]
    exclude: set[int]
    entries: list[Entry] = field(default_factory=list)  # the registered entries the embeddings are of (how they were trained)
    # how an unregistered checkpoint folder zoo-rank trained was trained (its zoo_rank_training.json)
    training: dict | None = None


CHECKPOINT_SUFFIXES = (*WEIGHT_SUFFIXES, ".json")  # files inside a checkpoint folder


def resolve_target(registry: Registry, target: str | Path, embedder: str = DEFAULT_EMBEDDER,
                   base_model: str | None = None, training: dict | None = None) -> Target:
    """A registry name, a data file, a checkpoint folder (embedded on the fly), a registered
    task, or a built-in task that is not registered — in that order.

    A data target (file or built-in task) is embedded by training on it (``training``: the
    keyword arguments of ``train``; BitFit by default) unless an embedding of the same data
    and base model is registered already.
    """
    from .datasets import TASKS, is_data_spec

    label = str(target)
    tasks_dir = (training or {}).get("tasks_dir")
    entry = registry.get(label) if isinstance(target, str) else None
    if entry is not None:
        return Target(label, "entry", embeddings_on_demand(registry, entry, embedder), {entry.id}, [entry])
    path = Path(target)
    if path.exists() and is_data_spec(path):
        return _data_target(registry, label, embedder, base_model, training)
    if path.is_file() and path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise RankingError(f"{label}: {path.suffix or 'a file without suffix'} is not a data file zoo-rank reads",
                           hint="save the data as .csv, .tsv, .jsonl or .json (a text column and a label column)")
    if path.exists():
        weights = read_checkpoint(path)
        emb = embed(weights, embedder, base_model=canonical_base_model(base_model))
        same = registry.by_content(weights.content_sha256())
        if same is not None:
            return Target(label, "checkpoint", [emb], {same.id}, [same])
        return Target(label, "checkpoint", [emb], set(), training=_training_record(path))
    entries = registry.by_task(label) if isinstance(target, str) else []
    if entries:
        embeddings = [e for entry in entries for e in embeddings_on_demand(registry, entry, embedder)]
        return Target(label, "task", _average_per_space(embeddings), {entry.id for entry in entries}, entries)
    if label in TASKS or (tasks_dir is not None and is_data_spec(label, tasks_dir)):
        return _data_target(registry, label, embedder, base_model, training)
    if path.suffix or "/" in label or "\\" in label:  # it names a file or folder, and there is none
        raise RankingError(f"{label}: not found",
                           hint="check the path; registry names and task names work too (`zoo-rank list`)")
    raise RankingError(
        f"{label!r} is not a registry name, a task, a data file or a checkpoint folder",
        hint="run `zoo-rank list` to see what is registered, or pass a .csv/.tsv/.jsonl file or a checkpoint folder",
    )


def _training_record(path: Path) -> dict | None:
    """The record zoo-rank wrote beside a checkpoint it trained, if ``path`` is such a folder."""
    import json

    from .training.config import TRAINING_FILE

    try:
        record = json.loads((path / TRAINING_FILE).read_text(encoding="utf-8")) if path.is_dir() else None
    except (OSError, ValueError):
        return None  # not one zoo-rank trained, or a record it cannot read: no recipe to compare
    return record if isinstance(record, dict) else None


def _data_target(registry: Registry, label: str, embedder: str, base_model: str | None, training: dict | None) -> Target:
    from .pipeline.train import train  # training is a source of entries; this module only decides what the target is

    options = {"methods": ("bitfit",), "reuse": data_reuse((training or {}).get("config")), **(training or {})}
    trained = train(label, registry=registry, base_model=base_model, **options)
    exclude = own_data(registry, [t.entry for t in trained])
    embeddings = [e for t in trained for e in embeddings_on_demand(registry, t.entry, embedder)]
    return Target(label, "data", embeddings, exclude, [t.entry for t in trained])


def data_reuse(config) -> str:
    """Which registered embedding of a data target will do: with no training option given, any
    embedding of the same examples, model and method (``train`` says which it uses); once an
    option is given (mode, max examples, max length, until-learned, seed, ...), only one trained
    with exactly those settings, so the option takes effect."""
    from .training.config import TrainConfig

    if config is None or config == TrainConfig(device=config.device):
        return "any"
    return "same-config"


def _average_per_space(embeddings: list[TaskEmbedding]) -> list[TaskEmbedding]:
    """Several adapters of one task in one space stand for the task by their mean direction."""
    by_space: dict = {}
    for emb in embeddings:
        by_space.setdefault(emb.space, []).append(emb)
    merged = []
    for space, group in by_space.items():
        mean = np.mean([e.vector for e in group], axis=0)
        merged.append(TaskEmbedding(space, (mean / np.linalg.norm(mean)).astype(np.float32), float(np.linalg.norm(mean)),
                                    {"entries": len(group)}))
    return merged


def own_data(registry: Registry, entries: list[Entry]) -> set[int]:
    """Ids of every entry trained on the same examples as one of ``entries`` (under any task
    type): a target's own data is never one of its candidates."""
    ids = {e.id for e in entries}
    for entry in entries:
        if entry.metadata.get("data_sha256"):
            ids |= {e.id for e in registry.by_data(entry.metadata["data_sha256"])}
        if entry.metadata.get("examples_sha256"):
            ids |= {e.id for e in registry.by_examples(entry.metadata["examples_sha256"])}
    return ids
