"""Safe loading of weight files: safetensors (parsed here, no torch) and PyTorch pickles.

The safetensors header is parsed by hand rather than through ``safetensors.numpy`` so that
bfloat16 tensors (common in QLoRA adapters) load without torch, and so that a truncated or
inconsistent file is reported as such instead of as a crash deep in a C extension.
Pickled ``.bin`` files are only ever opened with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..jsontext import JSONProblem, parse
from ..errors import CheckpointError, DependencyError

_LFS_MAGIC = b"version https://git-lfs.github.com/spec/"
_MAX_HEADER = 100 * 1024 * 1024

_NUMPY_DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # widened to float32 below
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


@dataclass(frozen=True)
class LoadedFile:
    """Tensors of one weight file (float tensors as float32) and the sha256 of its bytes."""

    path: Path
    sha256: str
    tensors: dict[str, np.ndarray]


def read_checked_bytes(path: Path) -> bytes:
    """Read a weight file, refusing empty files and Git LFS pointers with a useful message."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not data:
        raise CheckpointError(path, "is empty (0 bytes)", hint="download the checkpoint again")
    if data.startswith(_LFS_MAGIC):
        raise CheckpointError(
            path,
            "is a Git LFS pointer, not the weights",
            hint="run `git lfs pull` in that repository or download the file from the hub",
        )
    return data


def load_safetensors(path: Path) -> LoadedFile:
    """Parse a safetensors file into float32 numpy arrays, validating every offset."""
    data = read_checked_bytes(path)
    truncated = "is truncated or not a safetensors file"
    hint = "download the checkpoint again"
    if len(data) < 8:
        raise CheckpointError(path, truncated, hint=hint)
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > _MAX_HEADER or 8 + header_len > len(data):
        raise CheckpointError(path, truncated, hint=hint)
    try:
        header = json.loads(data[8 : 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(path, f"{truncated} (header is not JSON)", hint=hint) from exc
    except RecursionError as exc:
        raise CheckpointError(path, f"{truncated} (header is nested too deeply)", hint=hint) from exc
    if not isinstance(header, dict):
        raise CheckpointError(path, f"{truncated} (header is not an object)", hint=hint)
    body = memoryview(data)[8 + header_len :]
    entries = [(name, _header_entry(path, name, info, len(body))) for name, info in header.items()
               if name != "__metadata__"]
    _refuse_overlaps(path, [(name, start, end) for name, (_, _, start, end) in entries])
    tensors: dict[str, np.ndarray] = {}
    for name, (dtype_name, shape, start, end) in entries:
        raw = np.frombuffer(body[start:end], dtype=_NUMPY_DTYPES[dtype_name]).reshape(shape)
        tensors[name] = _to_float32(raw, dtype_name)
    return LoadedFile(path, hashlib.sha256(data).hexdigest(), tensors)


def _header_entry(path: Path, name: str, info: object, body_size: int) -> tuple[str, tuple[int, ...], int, int]:
    """One tensor's (dtype, shape, start, end), checked the way the safetensors library checks it."""
    hint = "download the checkpoint again"
    try:
        dtype_name = info["dtype"]  # type: ignore[index]
        shape = tuple(_exact_int(s) for s in info["shape"])  # type: ignore[index]
        start, end = (_exact_int(o) for o in info["data_offsets"])  # type: ignore[index]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(path, f"tensor {name!r} has a malformed header entry", hint=hint) from exc
    dtype = _NUMPY_DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
    if dtype is None:
        raise CheckpointError(
            path,
            f"tensor {name!r} has dtype {dtype_name!r}, which zoo-rank cannot embed",
            hint="save the adapter in float32, float16 or bfloat16",
        )
    if any(s < 0 for s in shape):
        raise CheckpointError(path, f"tensor {name!r} has a negative dimension in shape {list(shape)}", hint=hint)
    size = math.prod(shape) * dtype.itemsize  # Python ints: [2**32, 2**32] must not wrap to 0
    if not 0 <= start <= end <= body_size or end - start != size:
        raise CheckpointError(path, f"is truncated or not a safetensors file (tensor {name!r} lies outside the "
                                    "file or its size does not match its shape)", hint=hint)
    return dtype_name, shape, start, end


def _exact_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{value!r} is not an integer")
    return value


def _refuse_overlaps(path: Path, spans: list[tuple[str, int, int]]) -> None:
    """Two tensors sharing bytes is a corrupt (or crafted) file; safetensors refuses it too."""
    previous_name, previous_end = None, 0
    for name, start, end in sorted(spans, key=lambda span: (span[1], span[2])):
        if start < previous_end and end > start:
            raise CheckpointError(path, f"is corrupt: tensors {previous_name!r} and {name!r} overlap in the file",
                                  hint="download the checkpoint again")
        if end > previous_end:
            previous_name, previous_end = name, end


def _to_float32(raw: np.ndarray, dtype_name: str) -> np.ndarray:
    if dtype_name == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    if raw.dtype.kind == "f":
        return raw.astype(np.float32)
    return raw.copy()


def load_torch_pickle(path: Path) -> LoadedFile:
    """Load a PyTorch ``.bin`` with ``weights_only=True``; anything but tensors is refused."""
    data = read_checked_bytes(path)
    try:
        import torch
    except ImportError as exc:
        raise DependencyError(
            f"{path}: is a PyTorch pickle and reading it needs torch",
            hint="install it with `pip install 'zoo-rank[torch]'`, or convert the file to safetensors",
        ) from exc
    import io
    import pickle

    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            path,
            "is a pickle holding objects other than tensors; zoo-rank never unpickles those",
            hint="re-save the adapter with safetensors (`save_pretrained(..., safe_serialization=True)`)",
        ) from exc
    except Exception as exc:  # torch raises RuntimeError/EOFError/ValueError for damaged archives
        raise CheckpointError(path, "is truncated or not a PyTorch file", hint="download the checkpoint again") from exc
    if not isinstance(state, dict):
        raise CheckpointError(path, f"holds a {type(state).__name__}, not a dict of tensors")
    tensors: dict[str, np.ndarray] = {}
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(path, f"holds a {type(value).__name__} under {name!r}, not a tensor")
        value = value.detach().cpu()
        tensors[str(name)] = (value.float() if value.is_floating_point() else value).numpy().copy()
    return LoadedFile(path, hashlib.sha256(data).hexdigest(), tensors)


def load_tensor_file(path: Path) -> LoadedFile:
    """Load ``*.safetensors`` without torch, anything else as a weights-only PyTorch pickle."""
    if path.suffix == ".safetensors":
        return load_safetensors(path)
    return load_torch_pickle(path)


def read_json(path: Path) -> dict:
    """Read a JSON object from a config file, with errors that name the file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise CheckpointError(path, "is not UTF-8 text") from exc
    try:
        value = parse(text)
    except JSONProblem as exc:
        raise CheckpointError(path, f"is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise CheckpointError(path, "must hold a JSON object")
    return value


def weight_file(directory: Path, names: tuple[str, ...], *, required_by: str | None = None) -> Path | None:
    """The first of ``names`` present in ``directory`` (safetensors listed first wins).

    With ``required_by`` (the config file that implies weights), a missing file is an error.
    """
    found = next((directory / n for n in names if (directory / n).is_file()), None)
    if found is None and required_by:
        raise CheckpointError(directory, f"has {required_by} but no {' or '.join(names)}")
    return found


def sha256_of(path: Path) -> str:
    """sha256 of a small file's bytes (configs)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
