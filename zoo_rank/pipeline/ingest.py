"""The one way a checkpoint enters the registry, whoever found it.

Every source of entries says what it found as ``Source`` values — a checkpoint folder and what
to register it as — and hands them to ``ingest``:

- ``add`` (``local.py``): folders on this machine;
- ``pull`` and ``refresh`` (``hub.py``): hub snapshots in the Hugging Face cache, new ones and
  registered ones whose embedder version is stale;
- ``train`` (``train.py``): a training run's own checkpoint, kept under ``<home>/checkpoints``;
- the built-in build (``builtin.py``): training runs of the built-in tasks;
- ``zoo-rank embed`` (``backfill.py``): registered entries that lack an embedder's vectors.

``ingest`` reads and embeds every source through an executor, then registers the new entries
and the renewed vectors in one transaction (``Registry.commit``). Nothing is written before
that, so a bad checkpoint (without ``keep_going``) or a Ctrl-C leaves the registry as it was.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..errors import CheckpointError, ZooRankError
from ..executors import Executor, ingest_executor, unwrap
from ..jobs import Embedded, embed_checkpoint
from ..registry import Entry, NewEntry, Registry
from ..spaces import TaskEmbedding

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,199}$")


@dataclass(frozen=True)
class Source:
    """One checkpoint folder to embed, and what to register it as.

    ``base_model``: the base model to register it under when its config names none.
    ``name``: None gives ``adapter-<content hash>``. ``source``: where the entry says it came
    from (default: the folder's resolved path). ``renews``: a registered entry of the same
    content whose vectors from ``embedders`` are replaced (a stale embedder version, a backfill)
    instead of registering a new entry. ``embedders``: which to run (default: those that run on
    ingest, ``embedders.ingest_embedders``). ``keep_at``: the folder is temporary and is moved
    there once embedded (a training run's checkpoint), and removed again if nothing is registered.
    """

    directory: str
    base_model: str | None = None
    name: str | None = None
    task: str | None = None
    task_type: str | None = None
    train_size: int | None = None
    revision: str | None = None
    metadata: dict | None = None
    source: str | None = None
    renews: Entry | None = None
    embedders: tuple[str, ...] | None = None
    keep_at: Path | None = None


@dataclass
class AddResult:
    """What an ingestion did: entries newly registered, found already registered, given new
    vectors (``renewed``), and the checkpoints that failed (with ``keep_going``), plus warnings
    to show the user and where the seconds went (``embed``, ``register``)."""

    added: list[Entry] = field(default_factory=list)
    existing: list[Entry] = field(default_factory=list)
    failed: list[ZooRankError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reembedded: list[Entry] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def validate_name(name: str, where: str | Path | None = None) -> str:
    """A name given by the user, checked; ``where`` (the checkpoint or data it would name) goes in the error."""
    if not _NAME.match(name) or "//" in name or name.endswith("/"):
        raise ZooRankError(
            f"{where}: invalid name {name!r}" if where else f"invalid name {name!r}",
            hint="use letters, digits and . _ - : @ + / (up to 200 characters, starting with a letter or digit) "
                 "in --name",
        )
    return name


def safe_name(text: str, fallback: str = "adapter") -> str:
    """A valid registry name made from any folder or file name (``my adapters/ünï cødé 🙂`` →
    ``my-adapters/uni-cde``): accents dropped, other characters turned into ``-``."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    parts = [re.sub(r"[^A-Za-z0-9._:@+-]+", "-", part).strip("-._:@+") for part in plain.split("/")]
    name = "/".join(part for part in parts if part)[:200].rstrip("/")
    return name if name and _NAME.match(name) else fallback


def ingest(registry: Registry, sources: Sequence[Source], *, executor: Executor | None = None,
           keep_going: bool | type[ZooRankError] = False, progress: Callable[[Source], None] | None = None,
           result: AddResult | None = None) -> AddResult:
    """Embed every source through ``executor`` (None: chosen by the amount of work) and register
    what they bring in one transaction. Content the registry holds already is read but not
    embedded again (unless a source ``renews`` it), and lands in ``result.existing``.

    A ``ZooRankError`` from reading, embedding or describing a source stops everything and
    nothing is written; with ``keep_going`` (or for errors of the class it names) it is noted in
    ``result.failed`` and the rest go on. ``progress`` hears each finished source, failed or not.
    """
    result = result if result is not None else AddResult()
    executor = executor or ingest_executor(len(sources))
    renew = {s.renews.content_sha256 for s in sources if s.renews is not None}
    local = {"known": lambda sha: sha not in renew and registry.by_content(sha) is not None} if executor.local else None
    started = time.perf_counter()
    jobs = [(s.directory, s.base_model, list(s.embedders) if s.embedders else None) for s in sources]
    pending: list[NewEntry] = []
    renewed: list[tuple[Entry, list[TaskEmbedding]]] = []
    registered: set[str] = set()  # checkpoint folders moved to their ``keep_at`` and registered there

    def describe(index: int, outcome) -> NewEntry | None:
        if progress is not None:
            progress(sources[index])
        source, embedded = sources[index], unwrap(outcome)
        if source.renews is not None:
            if embedded.content_sha256 != source.renews.content_sha256:
                raise changed_since_registered(source.directory, source.renews)
            result.warnings += embedded.warnings
            renewed.append((source.renews, embedded.embeddings))
            return None
        item = new_entry(registry, embedded, source, result)
        if item is not None and source.keep_at is not None:
            shutil.rmtree(source.keep_at, ignore_errors=True)
            item.source = str(shutil.move(source.directory, source.keep_at))
        return item

    try:
        pending = gather(executor.map(embed_checkpoint, jobs, local_kwargs=local), describe, result, keep_going)
        result.seconds["embed"] = result.seconds.get("embed", 0.0) + time.perf_counter() - started
        registering = time.perf_counter()
        if pending or renewed:
            added, renewed_entries = registry.commit(pending, renewed)
            for status, entry in added:
                (result.added if status == "added" else result.existing).append(entry)
            result.reembedded += renewed_entries
            registered = {entry.source for status, entry in added if status == "added"}
        result.seconds["register"] = result.seconds.get("register", 0.0) + time.perf_counter() - registering
    finally:
        for source in sources:  # a moved checkpoint whose entry was not registered is not left behind
            if source.keep_at is not None and str(source.keep_at) not in registered:
                shutil.rmtree(source.keep_at, ignore_errors=True)
    return result


def changed_since_registered(folder: str | Path, entry: Entry) -> CheckpointError:
    """The error for a registered entry's checkpoint whose files no longer hold what was registered."""
    return CheckpointError(folder, "has changed since it was registered",
                           hint=f"`zoo-rank remove {entry.name}` and add it again")


T = TypeVar("T")


def gather(outcomes: Iterable[tuple[int, object]], handle: Callable[[int, object], T | None], result: AddResult,
           keep_going: bool | type[ZooRankError]) -> list[T]:
    """``handle(index, outcome)`` for each outcome of an executor's ``map`` as it finishes; the
    values that are not None, in index order (the order asked for, whatever finished first). A
    ``ZooRankError`` stops everything, or with ``keep_going`` (or for errors of the class it
    names) goes to ``result.failed``."""
    forgiven = keep_going if isinstance(keep_going, type) else ZooRankError if keep_going else ()
    kept: dict[int, T] = {}
    try:
        for index, outcome in outcomes:
            try:
                value = handle(index, outcome)
            except ZooRankError as exc:
                if not isinstance(exc, forgiven):
                    raise
                result.failed.append(exc)
                continue
            if value is not None:
                kept[index] = value
    finally:
        # an error or Ctrl-C while an outcome is handled: the executor stops its workers now, not
        # when the traceback that holds this frame is dropped (at exit, after waiting for them all)
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
    return [kept[i] for i in sorted(kept)]


def new_entry(registry: Registry, embedded: Embedded, source: Source, result: AddResult) -> NewEntry | None:
    """The ``NewEntry`` for an embedded checkpoint; None (and noted in ``result.existing``) when
    its content is already registered, under any name."""
    existing = registry.by_content(embedded.content_sha256)
    if existing is not None:
        result.existing.append(existing)
        return None
    if embedded.embeddings is None:  # registered when the job looked, removed since
        raise ZooRankError(f"{embedded.directory}: was removed from the registry while being added",
                           hint="run the command again")
    result.warnings += embedded.warnings
    if embedded.named_base_model is None and source.base_model is None:
        result.warnings.append(f"{embedded.directory}: names no base model; registered under "
                               f"{embedded.embeddings[0].space.base_model} (pass --base-model to set it)")
    return NewEntry(
        name=validate_name(source.name or f"adapter-{embedded.content_sha256[:8]}", embedded.directory),
        source=source.source or str(Path(embedded.directory).resolve()),
        content_sha256=embedded.content_sha256,
        files=embedded.files,
        method=embedded.method,
        format=embedded.format,
        base_model=embedded.embeddings[0].space.base_model,
        embeddings=embedded.embeddings,
        revision=source.revision,
        task=source.task,
        task_type=source.task_type,
        train_size=source.train_size,
        metadata={**embedded.info, **(source.metadata or {})},
    )
