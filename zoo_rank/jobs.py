"""The units of work an executor runs: pure functions of picklable arguments.

None of them touches the registry; the caller registers what they return, in one process,
so running them on a Ray cluster can neither register anything twice nor half.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .embedders import DEFAULT_EMBEDDER, TaskEmbedding, embed, ingest_embedders
from .errors import CheckpointError, ZooRankError
from .readers import read_checkpoint
from .weights import AdapterWeights


@dataclass
class Embedded:
    """A checkpoint read and embedded; ``embeddings`` is None when ``known`` said its content
    was registered already (so it was not embedded again)."""

    directory: str
    content_sha256: str
    files: dict
    method: str
    format: str
    named_base_model: str | None  # what the checkpoint's own config says
    info: dict
    embeddings: list[TaskEmbedding] | None
    warnings: list[str] = field(default_factory=list)


def embed_all(weights: AdapterWeights, base_model: str | None = None,
              embedders: list[str] | None = None) -> tuple[list[TaskEmbedding], list[str]]:
    """Embeddings of one checkpoint with ``embedders``: each of them must succeed. Without
    ``embedders``, those that run on ingest (``ingest_embedders()``): the default embedder must
    succeed, the others are skipped with a warning."""
    required = set(embedders or [DEFAULT_EMBEDDER])
    embeddings, warnings = [], []
    for name in embedders or ingest_embedders():
        try:
            try:
                embeddings.append(embed(weights, name, base_model=base_model))
            except (ValueError, TypeError, KeyError, IndexError, ArithmeticError, MemoryError) as exc:
                # shapes or values no reader check caught: still this checkpoint's one-line error
                raise CheckpointError(weights.path, f"cannot be embedded with {name} ({type(exc).__name__}: "
                                                    f"{str(exc).strip()[:200]})") from exc
        except ZooRankError as exc:  # a checkpoint it cannot embed, or (behaviour) a base model not here
            if name in required:
                raise
            warnings.append(f"{exc} ({name} embedding skipped)")
    return embeddings, warnings


def embed_checkpoint(directory: str, base_model: str | None = None, embedders: list[str] | None = None, *,
                     known: Callable[[str], bool] | None = None) -> Embedded:
    """Read one checkpoint folder and embed it (see ``embed_all`` for ``embedders``).

    ``known`` (in-process only: it may hold the registry) is asked with the content hash
    before embedding, so re-adding a registered folder costs a read, not an embedding.
    """
    if not Path(directory).exists():  # on a cluster: the worker does not see the caller's files
        raise CheckpointError(directory, "not found where the job ran",
                              hint="with a remote --ray-address, put the files on storage every node mounts")
    weights = read_checkpoint(directory)
    sha = weights.content_sha256()
    info = {k: v for k, v in weights.info.items() if v is not None}
    info.update(head_tensors=len(weights.head), skipped_tensors=len(weights.skipped),
                tuned_values=weights.num_tuned_values())
    embedded = Embedded(str(directory), sha, weights.files, weights.method, weights.format, weights.base_model,
                        info, None)
    if known is None or not known(sha):
        embedded.embeddings, embedded.warnings = embed_all(weights, base_model, embedders)
    return embedded


@dataclass
class TrainedFiles:
    """A finished training run and its ``TrainResult``. Its checkpoint is in the folder the caller
    named (``directory``), or, from a machine that shares no disk with the caller, comes back as
    bytes (``files``)."""

    files: dict[str, bytes] | None
    result: object  # TrainResult, without the in-memory model
    directory: str | None = None


def train_job(dataset, config, base, label: str, threads: int | None = None, into: str | None = None, *,
              progress=None) -> TrainedFiles:
    """Train ``config.method`` on ``dataset`` (a ``Dataset``) from ``base`` (a ``BaseModel``).

    ``into``: a new folder on the caller's disk to write the checkpoint in (an in-process run);
    without it, the checkpoint is written to a scratch folder and returned as bytes.
    ``threads`` pins torch's CPU threads for the run: the float sums of a CPU run depend on
    how many threads share them, so runs are bit-identical only at the same thread count.
    """
    import shutil
    import tempfile

    import torch

    from .training import train_checkpoint

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)

    if progress is not None:
        report = progress
        progress = lambda what, *state: report(f"{label}: {what}", *state)  # noqa: E731
    scratch = None if into else Path(tempfile.mkdtemp(prefix="zoo-rank-train-"))
    try:
        result = train_checkpoint(dataset, Path(into) if into else scratch / "checkpoint", config, base,
                                  progress=progress)
        result.model = None
        if into:
            return TrainedFiles(None, result, into)
        files = {p.relative_to(result.checkpoint).as_posix(): p.read_bytes()
                 for p in sorted(result.checkpoint.rglob("*")) if p.is_file()}
        return TrainedFiles(files, result)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        torch.set_num_threads(before)
