"""Checkpoint readers. The format is detected from the files and config, never from names.

| files                                   | config marker                  | reader        |
|-----------------------------------------|--------------------------------|---------------|
| adapter_config.json + adapter_model.*   | ``peft_type``                  | ``peft``      |
| adapter_config.json + pytorch_adapter.* | ``config`` + ``model_name``    | ``adapterhub``|
| bitfit_config.json + bitfit_model.*     | ``format: zoo-rank-bitfit``    | ``bitfit``    |

Each reader module declares its files and detection as a ``ReaderSpec`` (``spec.py``);
``READERS`` lists them once, and the hub's file selection (``hub/files.py``) reads the same list.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from ..errors import CheckpointError
from ..plugins import installed, own
from ..weights import AdapterWeights
from . import adapterhub, bitfit, peft
from .bitfit import save_bitfit
from .spec import ReaderSpec
from .tensorfile import read_json

__all__ = ["READERS", "WEIGHT_SUFFIXES", "ReaderSpec", "reader_specs", "read_checkpoint", "find_checkpoints",
           "save_bitfit"]

def register_readers(register) -> None:
    """zoo-rank's own formats, registered as a plugin's are (``hookspecs.register_readers``)."""
    for spec in (peft.READER, adapterhub.READER, bitfit.READER):
        register(spec)


def _reader(found: object) -> tuple[str, ReaderSpec]:
    """A registered reader, checked."""
    if not isinstance(found, ReaderSpec):
        raise ValueError("a reader must be a zoo_rank.readers.ReaderSpec")
    return found.format, found


# zoo-rank's own formats; ``reader_specs()`` adds those of installed plugin packages.
READERS: tuple[ReaderSpec, ...] = tuple(own(register_readers, _reader).values())


def reader_specs() -> tuple[ReaderSpec, ...]:
    """Every format zoo-rank reads, tried in this order on a folder holding the spec's config file:
    its own, then those of plugin packages (``register_readers``), loaded on first use so that a
    plugin may import zoo-rank's own modules."""
    return READERS + _plugin_readers()


@lru_cache(maxsize=1)
def _plugin_readers() -> tuple[ReaderSpec, ...]:
    return tuple(spec for _, spec in installed("register_readers", _reader, {spec.format for spec in READERS}))

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_MAX_DEPTH = 6


def _config_files() -> tuple[str, ...]:
    return tuple(dict.fromkeys(spec.config for spec in reader_specs()))


def _has_config(directory: Path) -> bool:
    return any((directory / name).is_file() for name in _config_files())


def shown_path(path: str | Path, limit: int = 300) -> str:
    """A path as it can be printed: bytes that are not UTF-8 as ``\\xff``, and a very long one cut."""
    text = os.fsencode(str(path)).decode("utf-8", "backslashreplace")
    return text if len(text) <= limit else f"{text[:limit // 2]}…{text[-limit // 2:]}"


def _as_directory(path: Path) -> Path:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError(shown_path(path), "has a name that is not valid UTF-8",
                              hint="rename it; zoo-rank stores sources as text") from None
    try:
        if path.is_file():
            return path.parent
        if not path.exists():
            raise CheckpointError(shown_path(path), "does not exist")
    except OSError as exc:  # a name longer than the file system takes, a folder that cannot be listed
        raise CheckpointError(shown_path(path), f"cannot be read ({exc.strerror or exc})") from None
    return path


def read_checkpoint(path: str | Path) -> AdapterWeights:
    """Read one checkpoint folder (or a file inside it) into ``AdapterWeights``.

    Any failure is this checkpoint's one-line ``CheckpointError``: a malformed file from the
    wild (a 0-d tensor, a string where a number belongs, a header nested 200,000 deep) must
    not become a traceback, nor stop a batch whose other checkpoints are fine.
    """
    directory = _as_directory(Path(path))
    try:
        return _read(directory)
    except CheckpointError:
        raise
    except (MemoryError, RecursionError, ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError,
            OSError, UnicodeError, AssertionError, RuntimeError) as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "no detail"
        raise CheckpointError(directory, f"is malformed and cannot be read ({type(exc).__name__}: {detail})",
                              hint="re-save it with its library, or leave it out (--keep-going skips it)") from exc


def _read(directory: Path) -> AdapterWeights:
    for config_name in _config_files():
        if not (directory / config_name).is_file():
            continue
        config = read_json(directory / config_name)
        for spec in reader_specs():
            if spec.config == config_name and spec.detect(config):
                return spec.read(directory)
        formats = ", ".join(spec.format for spec in reader_specs() if spec.config == config_name)
        raise CheckpointError(
            directory / config_name,
            f"is a config no reader recognises (tried: {formats}; a PEFT config has peft_type, an AdapterHub "
            "config has config and model_name)",
            hint="re-save the adapter with peft's save_pretrained() or adapters' save_adapter()",
        )
    raise _no_checkpoint_error(directory)


def _no_checkpoint_error(directory: Path) -> CheckpointError:
    weights = sorted(p.name for p in directory.iterdir() if p.suffix in WEIGHT_SUFFIXES) if directory.is_dir() else []
    if weights:
        return CheckpointError(
            directory,
            f"has weights ({', '.join(weights[:3])}) but no {' or '.join(_config_files())}",
            hint="download the config that belongs with these weights",
        )
    return CheckpointError(directory, f"holds no adapter checkpoint (no {' or '.join(_config_files())})")


def find_checkpoints(path: str | Path) -> list[Path]:
    """Checkpoint folders at or under ``path`` (a checkpoint folder, a file in one, or a tree).

    A folder that is itself a checkpoint is not searched further (checkpoints may keep
    their own sub-folders, e.g. ``checkpoint-500``). Hidden folders are skipped.
    """
    root = _as_directory(Path(path))
    if _has_config(root):
        return [root]
    found: list[Path] = []
    for current, dirs, _files in os.walk(root):
        here = Path(current)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if len(here.relative_to(root).parts) >= _MAX_DEPTH:
            dirs[:] = []
        if here != root and _has_config(here):
            found.append(here)
            dirs[:] = []
    if not found:
        raise _no_checkpoint_error(root)
    return found
