"""Which device a training run uses, resolved before any training starts, and loading its base
model (found by ``zoo_rank.base_models``, which the behaviour embedder uses too) with a fresh head.
"""

from __future__ import annotations

from ..base_models import (  # noqa: F401 - where training's callers have always found them
    DEFAULT_BASE_MODEL,
    BaseModel,
    base_model_name,
    default_model_dir,
    resolve_base_model,
)
from ..errors import TrainingError


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


def autocast(device):
    """The mixed-precision context of ``device`` (bf16, else fp16 with a scaler, on CUDA) and its
    gradient scaler (None unless fp16)."""
    import contextlib

    import torch

    if device.type != "cuda":
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return torch.autocast("cuda", dtype=dtype), scaler


def set_dropout(model, rate: float) -> None:
    """Every dropout of ``model`` (its base, its head, a PEFT module's) at ``rate``: ``nn.Dropout``
    layers, and the float rates some attention implementations read instead of a layer."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = rate
        for name in ("attention_dropout", "dropout_prob", "attn_dropout"):
            if isinstance(getattr(module, name, None), float):
                setattr(module, name, rate)


HEADS = {"sequence-classification": "AutoModelForSequenceClassification",
         "question-answering": "AutoModelForQuestionAnswering"}


def load_for_classification(base: BaseModel, num_labels: int, regression: bool):
    """(tokenizer, model with a fresh sequence-classification head)."""
    return load_pretrained(base, "sequence-classification", num_labels=num_labels,
                           problem_type="regression" if regression else "single_label_classification")


def load_pretrained(base: BaseModel, head: str, **settings):
    """(tokenizer, model with a fresh ``head`` (a key of ``HEADS``)) — offline for local folders,
    never remote code; ``settings`` go to the model's config (``num_labels``, ``problem_type``)."""
    import transformers
    from transformers import AutoTokenizer

    kwargs = dict(local_files_only=base.local, trust_remote_code=False)
    verbosity = transformers.logging.get_verbosity()
    bars = transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()  # "newly initialized: classifier" is expected
    transformers.logging.disable_progress_bar()  # transformers 5's "Loading weights" bar, for a small model
    try:
        tokenizer = AutoTokenizer.from_pretrained(base.location, **kwargs)
        model = getattr(transformers, HEADS[head]).from_pretrained(base.location, **settings, **kwargs)
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
