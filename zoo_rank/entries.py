"""What the registry holds per checkpoint: ``Entry`` (registered) and ``NewEntry`` (about to
be), and how a row of the ``entries`` table becomes an ``Entry``.

Apart from ``registry.py`` so that the shipped built-in set (``builtin_registry.py``) can read
its own database file without importing the registry that seeds from it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .spaces import TaskEmbedding

ENTRY_COLUMNS = (
    "id, name, source, revision, content_sha256, files, method, format, base_model, task, task_type, "
    "train_size, metadata, created_at"
)


@dataclass
class Entry:
    """One registered checkpoint and the spaces it has vectors in."""

    id: int
    name: str
    source: str
    revision: str | None
    content_sha256: str
    files: dict
    method: str
    format: str
    base_model: str
    task: str | None
    task_type: str | None
    train_size: int | None
    metadata: dict
    created_at: str
    spaces: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class NewEntry:
    """An entry about to be registered, with its embeddings already computed."""

    name: str
    source: str
    content_sha256: str
    files: dict
    method: str
    format: str
    base_model: str
    embeddings: list[TaskEmbedding]
    revision: str | None = None
    task: str | None = None
    task_type: str | None = None
    train_size: int | None = None
    metadata: dict = field(default_factory=dict)


def entry_from_row(row: tuple) -> Entry:
    """An ``Entry`` from a row selected as ``ENTRY_COLUMNS`` (files and metadata are JSON)."""
    values = list(row)
    values[5] = json.loads(values[5])
    values[12] = json.loads(values[12])
    return Entry(*values)


def as_new(entry: Entry, embeddings: list[TaskEmbedding], name: str | None = None) -> NewEntry:
    """``entry`` as a ``NewEntry`` with these ``embeddings`` (under ``name``, else its own): what
    copying an entry into another registry, or registering it again under another name, inserts."""
    return NewEntry(name=name or entry.name, source=entry.source, content_sha256=entry.content_sha256,
                    files=entry.files, method=entry.method, format=entry.format, base_model=entry.base_model,
                    embeddings=embeddings, revision=entry.revision, task=entry.task, task_type=entry.task_type,
                    train_size=entry.train_size, metadata=entry.metadata)
