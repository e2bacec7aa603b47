"""The one way a checkpoint enters the registry, whoever found it: ``add`` (local folders),
``pull`` and ``refresh`` (hub snapshots) and ``train`` (a run's own checkpoint).

Every path goes through the same three steps, so a checkpoint is described the same way
however it arrived:

1. ``embed_each``: read and embed checkpoint folders (``jobs.embed_checkpoint``) through an
   executor; content the registry already holds is read but not embedded again.
2. ``new_entry``: the ``NewEntry`` for one embedded checkpoint (None when its content is
   registered under any name), with the caller's task, name and provenance.
3. ``register``: all new entries in one transaction, added or found, noted in an ``AddResult``.

Nothing is written before step 3, so a bad checkpoint (without ``keep_going``) or a Ctrl-C
leaves the registry as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence, TypeVar

from .errors import ZooRankError
from .executors import Executor, ingest_executor, unwrap
from .jobs import Embedded, embed_checkpoint
from .registry import Entry, NewEntry, Registry

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,199}$")


@dataclass
class AddResult:
    """What an ingestion did: entries newly registered, found already registered, and the
    checkpoints that failed (with ``keep_going``), plus warnings to show the user."""

    added: list[Entry] = field(default_factory=list)
    existing: list[Entry] = field(default_factory=list)
    failed: list[ZooRankError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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


def skip_registered(registry: Registry, executor: Executor, embed_anew: set[str] = frozenset()) -> dict | None:
    """``embed_checkpoint``'s local keyword arguments: in this process, content the registry
    holds (bar ``embed_anew``) is read but not embedded again; elsewhere the caller checks after."""
    if not executor.local:
        return None
    return {"known": lambda sha: sha not in embed_anew and registry.by_content(sha) is not None}


Describe = Callable[[int, Embedded], "NewEntry | None"]


def embed_each(registry: Registry, jobs: Sequence[tuple[str, str | None]], describe: Describe, result: AddResult, *,
               executor: Executor | None = None, keep_going: bool = False, embed_anew: set[str] = frozenset(),
               progress: Callable[[int], None] | None = None) -> list[NewEntry]:
    """Embed each ``(checkpoint folder, base model or None)`` of ``jobs`` through ``executor`` (None:
    chosen by the amount of work) and ``describe(index, embedded)`` it as a ``NewEntry`` (or None:
    nothing to register). Returns the new entries in job order, whichever finished first.

    A ``ZooRankError`` from reading, embedding or describing stops everything, or with
    ``keep_going`` is noted in ``result.failed`` and the rest go on. ``embed_anew``: content
    hashes to embed even though registered (a stale embedder version). ``progress`` hears
    each finished job's index, failed or not.
    """
    executor = executor or ingest_executor(len(jobs))
    local = skip_registered(registry, executor, embed_anew)

    def handle(index: int, outcome) -> NewEntry | None:
        if progress is not None:
            progress(index)
        return describe(index, unwrap(outcome))

    return gather(executor.map(embed_checkpoint, list(jobs), local_kwargs=local), handle, result, keep_going)


T = TypeVar("T")


def gather(outcomes: Iterable[tuple[int, object]], handle: Callable[[int, object], T | None], result: AddResult,
           keep_going: bool) -> list[T]:
    """``handle(index, outcome)`` for each outcome of an executor's ``map`` as it finishes; the
    values that are not None, in index order (the order asked for, whatever finished first). A
    ``ZooRankError`` stops everything, or with ``keep_going`` goes to ``result.failed``."""
    kept: dict[int, T] = {}
    for index, outcome in outcomes:
        try:
            value = handle(index, outcome)
        except ZooRankError as exc:
            if not keep_going:
                raise
            result.failed.append(exc)
            continue
        if value is not None:
            kept[index] = value
    return [kept[i] for i in sorted(kept)]


def new_entry(registry: Registry, embedded: Embedded, *, name: str, result: AddResult, task: str | None = None,
              task_type: str | None = None, train_size: int | None = None, base_model: str | None = None,
              revision: str | None = None, metadata: dict | None = None, source: str | None = None) -> NewEntry | None:
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
    if embedded.named_base_model is None and base_model is None:
        result.warnings.append(f"{embedded.directory}: names no base model; registered under "
                               f"{embedded.embeddings[0].space.base_model} (pass --base-model to set it)")
    return NewEntry(
        name=validate_name(name, embedded.directory),
        source=source or str(Path(embedded.directory).resolve()),
        content_sha256=embedded.content_sha256,
        files=embedded.files,
        method=embedded.method,
        format=embedded.format,
        base_model=embedded.embeddings[0].space.base_model,
        embeddings=embedded.embeddings,
        revision=revision,
        task=task,
        task_type=task_type,
        train_size=train_size,
        metadata={**embedded.info, **(metadata or {})},
    )


def register(registry: Registry, pending: list[NewEntry], result: AddResult) -> None:
    """Insert ``pending`` in one transaction; each lands in ``result.added`` or ``result.existing``."""
    for status, entry in registry.insert(pending) if pending else []:
        (result.added if status == "added" else result.existing).append(entry)
