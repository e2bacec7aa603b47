"""Every setting zoo-rank reads from the environment, in one place: its name, its default and
what it does (``VARIABLES``; docs/usage.md lists them). Each is read when asked, never at import,
so a caller or a test that sets a variable is heard; a value that is not what the variable takes
is one line naming it.

The registry folder and the assets folder live here too: where things are kept is a setting,
and the registry and the asset store both ask it (neither asks the other).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ZooRankError

HOME = "ZOO_RANK_HOME"
ASSETS = "ZOO_RANK_ASSETS"
BUILTIN = "ZOO_RANK_BUILTIN"
TASKS_DIR = "ZOO_RANK_TASKS_DIR"
EXECUTOR = "ZOO_RANK_EXECUTOR"
EMBEDDERS = "ZOO_RANK_EMBEDDERS"
VECTOR_DTYPE = "ZOO_RANK_VECTOR_DTYPE"
CACHE_F32_MAX = "ZOO_RANK_CACHE_F32_MAX"
SHORTLIST = "ZOO_RANK_SHORTLIST"
FAISS_MIN = "ZOO_RANK_FAISS_MIN"
INDEX_DIM = "ZOO_RANK_INDEX_DIM"
IVF_NPROBE = "ZOO_RANK_IVF_NPROBE"

VARIABLES: dict[str, str] = {
    HOME: "the registry folder (default: the user cache folder, ~/.cache/zoo-rank on Linux)",
    ASSETS: "where `zoo-rank fetch` keeps the pinned model and datasets (default: <home>/assets)",
    BUILTIN: "0: a new registry starts without the shipped built-in embeddings",
    TASKS_DIR: "a folder of task folders whose names work as task names (--tasks-dir)",
    EXECUTOR: "where add, pull, refresh and train run their jobs (--executor)",
    EMBEDDERS: "the embedders run on every add, pull and train, comma-separated (default: the cheap ones)",
    VECTOR_DTYPE: "float16: a new registry stores vectors in half precision (default float32)",
    CACHE_F32_MAX: "the largest float32 ranking cache of a float16 registry, in bytes (default 4 GiB)",
    SHORTLIST: "how many candidates a faiss index hands to exact re-scoring (default 1000)",
    FAISS_MIN: "--index auto uses faiss from this many vectors in a space (default 100000)",
    INDEX_DIM: "vectors wider than this are projected before a faiss index (default 1024)",
    IVF_NPROBE: "lists a faiss IVF index searches (default: an eighth of them)",
}


def text(name: str) -> str | None:
    """A variable's value, or None when it is unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or None


def whole_number(name: str, default: int, what: str = "whole number") -> int:
    """A non-negative integer setting; anything else is one line naming the variable."""
    value = text(name)
    if value is None:
        return default
    if not value.isdigit():
        raise ZooRankError(f"{name}={value[:40]!r} is not a {what}",
                           hint=f"unset it, or give a whole number such as {default}")
    return int(value)


def default_home() -> Path:
    """``$ZOO_RANK_HOME``, else the user cache directory (``~/.cache/zoo-rank`` on Linux)."""
    value = text(HOME)
    if value:
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("zoo-rank", appauthor=False))


def assets_dir(home: str | Path | None = None) -> Path:
    """``$ZOO_RANK_ASSETS``, else ``<home>/assets`` (home: the registry folder)."""
    value = text(ASSETS)
    if value:
        return Path(value).expanduser()
    return (Path(home) if home is not None else default_home()) / "assets"


def builtin_default() -> bool:
    """Whether a new registry starts with the shipped built-in embeddings."""
    return text(BUILTIN) != "0"


def vector_dtype() -> str | None:
    """The vector type asked of a registry (the registry checks it is one it stores)."""
    return text(VECTOR_DTYPE)


def embedders() -> list[str] | None:
    """The embedders asked to run on every add, pull and train; None: the default set."""
    value = text(EMBEDDERS)
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


def cache_f32_max() -> int:
    return whole_number(CACHE_F32_MAX, 4 << 30, "number of bytes")


def shortlist() -> int:
    return whole_number(SHORTLIST, 1000)


def faiss_min() -> int:
    return whole_number(FAISS_MIN, 100_000)


def index_dim() -> int:
    return whole_number(INDEX_DIM, 1024)


def ivf_nprobe() -> int:
    """0: an eighth of the index's lists."""
    return whole_number(IVF_NPROBE, 0)
