"""Checkpoint folders on this machine as a source of registry entries (``zoo-rank add``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import ZooRankError
from ..executors import Executor
from ..readers import find_checkpoints
from ..registry import Registry
from ..weights import canonical_base_model
from .ingest import AddResult, Source, ingest, safe_name


def add(
    paths: Sequence[str | Path],
    *,
    registry: Registry | None = None,
    name: str | None = None,
    task: str | None = None,
    task_type: str | None = None,
    train_size: int | None = None,
    base_model: str | None = None,
    revision: str | None = None,
    metadata: dict | None = None,
    keep_going: bool = False,
    progress: Callable[[Path], None] | None = None,
    executor: Executor | None = None,
) -> AddResult:
    """Read, embed and register every checkpoint at or under ``paths``.

    All checkpoints are read and embedded (by ``executor``: in this process by default)
    before anything is written, and then written in one transaction: a bad file leaves the
    registry exactly as it was (unless ``keep_going``, which skips bad checkpoints and
    registers the rest).
    """
    registry = registry or Registry()
    result = AddResult()
    found: list[tuple[Path, Path]] = []
    for root in paths:
        root = Path(root).parent if _is_file(Path(root)) else Path(root)  # a file in a checkpoint: its folder
        try:
            found += [(root, directory) for directory in find_checkpoints(root)]
        except ZooRankError as exc:
            if not keep_going:
                raise
            result.failed.append(exc)
    if name is not None and len(found) > 1:
        raise ZooRankError(f"--name given but {len(found)} checkpoints found", hint="add them one at a time to name each")
    base_model = canonical_base_model(base_model)
    sources = [Source(str(directory), base_model, name or safe_name(_default_name(root, directory), fallback="") or None,
                      task=task, task_type=task_type, train_size=train_size, revision=revision, metadata=metadata)
               for root, directory in found]
    return ingest(registry, sources, executor=executor, keep_going=keep_going, result=result,
                  progress=progress and (lambda source: progress(Path(source.directory))))


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # said as the checkpoint's own error when it is read
        return False


def _default_name(root: Path, directory: Path) -> str:
    """A checkpoint's path below the folder it was found under, or its own folder name."""
    relative = directory.resolve().relative_to(root.resolve()) if directory != root else Path()
    return relative.as_posix() if relative.parts else directory.resolve().name
