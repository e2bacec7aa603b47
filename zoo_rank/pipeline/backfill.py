"""Embed registered entries with an embedder they lack (``zoo-rank embed``).

Add, pull and train run only the cheap embedders (``embedders.ingest_embedders``); an embedder
that needs torch and the base model (``behaviour``) is added afterwards, over the registry.
Each entry's checkpoint is read again from where it was registered (a folder, the Hugging
Face cache, ``<home>/checkpoints``), checked against the content hash it was registered with,
embedded, and its vector committed on its own: an interrupted run keeps what it finished and
the next run goes on from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence

from ..embedders import Space, TaskEmbedding, embed, get_embedder
from ..errors import CheckpointError
from ..executors import InProcessExecutor
from ..registry import Entry, Registry


@dataclass
class EmbedResult:
    embedder: str
    embedded: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)  # had a vector from this embedder version already
    skipped: list[str] = field(default_factory=list)  # one line each: which entry and why


def checkpoint_folder(entry: Entry) -> Path | None:
    """Where an entry's checkpoint files are, from its ``source``; None for the shipped built-ins,
    which are registered without checkpoint files."""
    from ..builtin_registry import SOURCE_PREFIX

    if entry.source.startswith(SOURCE_PREFIX):
        return None
    if entry.source.startswith("hf://"):
        from ..hub.client import hub_cache_dir

        repo_sha, _, subfolder = entry.source[len("hf://"):].partition("@")[2].partition("/")
        repo_id = entry.source[len("hf://"):].partition("@")[0]
        folder = hub_cache_dir() / f"models--{repo_id.replace('/', '--')}" / "snapshots" / repo_sha
        return folder / PurePosixPath(subfolder) if subfolder else folder
    return Path(entry.source)


def existing_checkpoint_folder(entry: Entry) -> Path:
    """``checkpoint_folder``, or a ``CheckpointError`` saying why there is none to read (shipped
    without files, gone)."""
    folder = checkpoint_folder(entry)
    if folder is None:
        raise CheckpointError(entry.name, "is shipped without checkpoint files (a built-in run)",
                              hint="`zoo-rank train TASK` trains and registers one here")
    if not folder.exists():
        raise CheckpointError(folder, "does not exist")
    return folder


def embed_entry(entry: Entry, embedder: str) -> TaskEmbedding:
    """An entry's checkpoint, read again from where it was registered and embedded; a
    ``CheckpointError`` says why it cannot be (shipped without files, gone, changed)."""
    from ..readers import read_checkpoint
    from .ingest import changed_since_registered

    folder = existing_checkpoint_folder(entry)
    weights = read_checkpoint(folder)
    if weights.content_sha256() != entry.content_sha256:
        raise changed_since_registered(folder, entry)
    return embed(weights, embedder, base_model=entry.base_model)


def embeddings_on_demand(registry: Registry, entry: Entry, embedder: str) -> list[TaskEmbedding]:
    """An entry's vectors from ``embedder`` (its current version); when it has none, embedded now
    from its checkpoint and kept (a read-only registry is not written to). [] when its checkpoint cannot be read."""
    from ..errors import RegistryError

    version = get_embedder(embedder).version
    found = [e for e in registry.embeddings_of(entry) if e.space.embedder == embedder and e.space.version == version]
    if found:
        return found
    try:
        embedding = embed_entry(entry, embedder)
    except CheckpointError:
        return []
    try:
        registry.put_embedding(entry, embedding)
    except RegistryError:
        pass
    return [embedding]


def has_current(entry: Entry, embedder: str) -> bool:
    version = get_embedder(embedder).version
    return any(s.embedder == embedder and s.version == version for s in map(Space.from_id, entry.spaces))


def embed_registered(
    registry: Registry,
    embedder: str,
    names: Sequence[str] = (),
    *,
    progress: Callable[[str], None] | None = None,
) -> EmbedResult:
    """Give every entry (or the ``names``) a vector from ``embedder``, skipping the ones that
    have one from its current version. An entry whose files are gone or changed is skipped with
    its reason; a missing base model stops the run (every later entry would fail the same way).
    Each entry goes through ``ingest`` on its own, so an interrupted run keeps what it finished."""
    from .ingest import AddResult, Source, ingest

    get_embedder(embedder)
    entries = [registry.require(name) for name in names] if names else registry.entries()
    result = EmbedResult(embedder)
    executor = InProcessExecutor()
    for number, entry in enumerate(entries, 1):
        if has_current(entry, embedder):
            result.current.append(entry.name)
            continue
        try:
            folder = existing_checkpoint_folder(entry)
            done = ingest(registry, [Source(str(folder), entry.base_model, renews=entry, embedders=(embedder,))],
                          executor=executor, keep_going=CheckpointError, result=AddResult())
            if done.failed:
                raise done.failed[0]
        except CheckpointError as exc:  # one line: which entry and why
            result.skipped.append(str(exc) if exc.path == entry.name else f"{entry.name}: {exc}")
            continue
        result.embedded.append(entry.name)
        if progress is not None:
            progress(f"[{number}/{len(entries)}] {entry.name}")
    return result
