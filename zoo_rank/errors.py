"""Typed errors. Each carries the file or id it is about and says what to do next.

The CLI prints ``str(error)`` as a single line and exits non-zero; the library raises them
so that callers can tell bad input (``CheckpointError``) from a registry problem
(``RegistryError``) or a question the registry cannot answer (``RankingError``).
"""

from __future__ import annotations

from pathlib import Path


class ZooRankError(Exception):
    """Base class of every error zoo-rank raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}. {hint[:1].upper()}{hint[1:]}" if hint else message)

    def __reduce__(self):
        # Subclasses take other constructor arguments than ``args`` holds; rebuild from the state,
        # so an error raised in a Ray worker reaches the caller as the same type and message.
        return _restore, (type(self), self.args, self.__dict__)


def _restore(cls: type, args: tuple, state: dict) -> "ZooRankError":
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class CheckpointError(ZooRankError):
    """A checkpoint folder or weight file cannot be read or makes no sense."""

    def __init__(self, path: str | Path, message: str, *, hint: str | None = None) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}", hint=hint)


class DataError(ZooRankError):
    """A training data file (or a built-in task) cannot be used as it is."""

    def __init__(self, source: str | Path, message: str, *, hint: str | None = None) -> None:
        self.source = str(source)
        super().__init__(f"{self.source}: {message}", hint=hint)


class TrainingError(ZooRankError):
    """Training cannot start or did not finish (no such base model, no GPU, diverged)."""


class DependencyError(ZooRankError):
    """An optional dependency (torch for pickled ``.bin`` files) is missing."""


class SpaceMismatchError(ZooRankError):
    """Two embeddings from different spaces were compared; their cosine would mean nothing."""


class RegistryError(ZooRankError):
    """The registry database refused an operation (unknown name, name taken, newer schema)."""


class RankingError(ZooRankError):
    """A ranking cannot be produced (unknown target, no candidates in the target's space)."""


class BaseModelMissing(ZooRankError):
    """The base model an adapter needs is not on this machine."""


class MetricError(ZooRankError):
    """The true and predicted values cannot be compared (missing or too few candidates)."""


class TransferError(ZooRankError):
    """The transfer benchmark cannot run or its results file cannot be used."""


class HubError(ZooRankError):
    """A hub repo cannot be found, read or trusted (not found, gated, no adapter files, bad hash)."""

    def __init__(self, repo_id: str, message: str, *, hint: str | None = None) -> None:
        self.repo_id = repo_id
        super().__init__(f"{repo_id}: {message}", hint=hint)


class AssetError(ZooRankError):
    """A pinned asset is missing, corrupt, or could not be downloaded."""


class CatalogError(ZooRankError):
    """``registry.json`` (or a user catalog) has entries that cannot be used."""
