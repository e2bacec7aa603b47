"""Safe loading of weight files: safetensors (parsed here, no torch) and PyTorch pickles.

The safetensors header is parsed by hand rather than through ``safetensors.numpy`` so that
bfloat16 tensors (common in QLoRA adapters) load without torch, and so that a truncated or
inconsistent file is reported as such instead of as a crash deep in a C extension.
Pickled ``.bin`` files are only ever opened with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

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
    """Tensors of one weight file (float tensors as float32) and the sha256 of its bytes.

    ``tensors`` maps every name in the file; a safetensors file's values are read from disk when first
    looked up (``LazyTensors``), so a reader that only counts the tensors it does not embed (a 1 GiB
    ``modules_to_save`` head) never holds them in memory."""

    path: Path
    sha256: str
    tensors: Mapping[str, np.ndarray]


class LazyTensors(Mapping):
    """A safetensors file's tensors by name, each read (and converted to float32) when looked up. Names,
    shapes and offsets come from the validated header, so nothing here can read outside a tensor."""

    def __init__(self, path: Path, body_start: int, entries: dict[str, tuple[str, tuple[int, ...], int, int]]):
        self.path, self._start, self._entries = path, body_start, entries

    def __getitem__(self, name: str) -> np.ndarray:
        dtype_name, shape, start, end = self._entries[name]
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._start + start)
                data = handle.read(end - start)
        except OSError as exc:
            raise CheckpointError(self.path, f"cannot be read ({exc.strerror or exc})") from exc
        if len(data) != end - start:
            raise CheckpointError(self.path, "was cut short while it was read", hint="download the checkpoint again")
        raw = np.frombuffer(data, dtype=_NUMPY_DTYPES[dtype_name]).reshape(shape)
        return _to_float32(raw, dtype_name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def shape(self, name: str) -> tuple[int, ...]:
        return self._entries[name][1]

    def ref(self, name: str) -> "TensorRef":
        return TensorRef(self, name)


class Renamed(Mapping):
    """``tensors`` under other names (``rename(old)``; where two old names meet, the later wins), values still
    read only when looked up."""

    def __init__(self, tensors: Mapping, rename) -> None:
        self._tensors = tensors
        self._names = {rename(name): name for name in tensors}

    def __getitem__(self, name: str) -> np.ndarray:
        return self._tensors[self._names[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def ref(self, name: str):
        return held(self._tensors, self._names[name])


@dataclass(frozen=True)
class TensorRef:
    """A tensor left on disk (a head, kept out of the embedding): its shape, and ``load()`` to read it."""

    tensors: LazyTensors
    name: str

    @property
    def shape(self) -> tuple[int, ...]:
        return self.tensors.shape(self.name)

    def load(self) -> np.ndarray:
        return self.tensors[self.name]


def held(tensors: Mapping, name: str):
    """What a reader keeps of a tensor it does not embed: a ``TensorRef`` where the file is read lazily (so
    a 1 GiB head costs no memory), else the array it already has."""
    ref = getattr(tensors, "ref", None)
    return ref(name) if ref is not None else tensors[name]


def read_checked_bytes(path: Path) -> bytes:
    """Read a weight file, refusing empty files and Git LFS pointers with a useful message."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror or exc})") from exc
    _refuse_empty_or_pointer(path, data)
    return data


def _refuse_empty_or_pointer(path: Path, head: bytes) -> None:
    if not head:
        raise CheckpointError(path, "is empty (0 bytes)", hint="download the checkpoint again")
    if head.startswith(_LFS_MAGIC):
        raise CheckpointError(
            path,
            "is a Git LFS pointer, not the weights",
            hint="run `git lfs pull` in that repository or download the file from the hub",
        )


def hash_file(path: Path, digest) -> str:
    """``digest`` (a hashlib object) fed the file's bytes a block at a time, into one reused buffer: a weight
    file or a hub blob is never held whole, and no block is allocated anew. OSError is the caller's."""
    buffer = memoryview(bytearray(1 << 20))
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(buffer[:count])
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a weight file, or its one-line error."""
    try:
        return hash_file(path, hashlib.sha256())
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror or exc})") from exc


def load_safetensors(path: Path) -> LoadedFile:
    """A safetensors file's header, validated (every offset inside the file, no overlaps), and its tensors
    read lazily as float32 numpy arrays. Only the header is read here, and the bytes once for their hash."""
    truncated = "is truncated or not a safetensors file"
    hint = "download the checkpoint again"
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            prefix = handle.read(len(_LFS_MAGIC))  # the header's length, or a Git LFS pointer's first words
            _refuse_empty_or_pointer(path, prefix)
            if len(prefix) < 8:
                raise CheckpointError(path, truncated, hint=hint)
            (header_len,) = struct.unpack("<Q", prefix[:8])
            if header_len > _MAX_HEADER or 8 + header_len > size:
                raise CheckpointError(path, truncated, hint=hint)
            handle.seek(8)
            raw_header = handle.read(header_len)
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        header = parse(raw_header)
    except (UnicodeDecodeError, JSONProblem) as exc:
        raise CheckpointError(path, f"{truncated} (header is not JSON: {exc})", hint=hint) from exc
    if not isinstance(header, dict):
        raise CheckpointError(path, f"{truncated} (header is not an object)", hint=hint)
    body_size = size - 8 - header_len
    entries = {name: _header_entry(path, name, info, body_size) for name, info in header.items()
               if name != "__metadata__"}
    _refuse_overlaps(path, [(name, start, end) for name, (_, _, start, end) in entries.items()])
    return LoadedFile(path, file_sha256(path), LazyTensors(path, 8 + header_len, entries))


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


def _refuse_zip_bomb(path: Path) -> None:
    """A PyTorch file is a zip archive whose tensors torch stores uncompressed; one that would inflate to
    many times its size (a 1 MB deflate bomb held 2 GB) is refused from its directory, before torch reads it."""
    import zipfile

    try:
        if not zipfile.is_zipfile(path):
            return
        with zipfile.ZipFile(path) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return  # not a readable zip: torch says what it is
    size = path.stat().st_size
    if inflated > 4 * size + (64 << 20):
        raise CheckpointError(path, f"would inflate to {inflated / 2**30:.1f} GiB from {size / 2**20:.1f} MiB "
                                    "(PyTorch stores tensors uncompressed: this is no adapter written by torch)",
                              hint="download the checkpoint again, or use its safetensors file")


def load_torch_pickle(path: Path) -> LoadedFile:
    """Load a PyTorch ``.bin`` with ``weights_only=True``; anything but tensors is refused."""
    _refuse_zip_bomb(path)
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
