"""``registry.json``: the curated catalog of candidate sources zoo-rank knows.

The file lives at the top of the repository and ships inside the package
(``zoo_rank/data/registry.json``). ``sources`` are hub adapters (`zoo-rank refresh` pulls
them); ``builtin`` are the built-in tasks whose embeddings ship in ``builtin.db``. Each
entry carries what ranking and evaluation need and the hub does not reliably say: the task,
its type, and the training-set size (the DataSize baseline). The schema is in
docs/catalog.md; every entry is validated on load and each bad one is named in the error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .errors import CatalogError
from .jsontext import JSONProblem, parse
from .hub.ids import HubError, validate_repo_id, validate_revision
from .weights import canonical_base_model

SCHEMA_VERSION = 1
FORMATS = ("peft", "adapterhub", "bitfit")
TASK_TYPES = ("classification", "regression", "extractive-qa", "multiple-choice", "token-classification", "generation")


@dataclass(frozen=True)
class CatalogSource:
    """One hub adapter the catalog lists (``revision`` None: the default branch, pinned on pull)."""

    repo_id: str
    base_model: str
    task: str
    format: str
    revision: str | None = None
    subfolder: str = ""
    method: str | None = None
    task_type: str | None = None
    train_size: int | None = None
    license: str | None = None


@dataclass(frozen=True)
class CatalogBuiltin:
    """One built-in task: its embeddings ship in the package for ``base_model``."""

    task: str
    base_model: str
    methods: tuple[str, ...]
    task_type: str | None = None
    train_size: int | None = None
    license: str | None = None


@dataclass
class Catalog:
    path: str
    sources: list[CatalogSource] = field(default_factory=list)
    builtin: list[CatalogBuiltin] = field(default_factory=list)

    def source(self, repo_id: str, subfolder: str = "") -> CatalogSource | None:
        return next((s for s in self.sources if s.repo_id == repo_id and s.subfolder == subfolder), None)


def default_catalog_path() -> Path:
    return Path(str(resources.files("zoo_rank") / "data" / "registry.json"))


_SOURCE_KEYS = {"repo_id": str, "base_model": str, "task": str, "format": str, "revision": (str, type(None)),
                "subfolder": str, "method": (str, type(None)), "task_type": (str, type(None)),
                "train_size": (int, type(None)), "license": (str, type(None))}
_BUILTIN_KEYS = {"task": str, "base_model": str, "methods": list, "task_type": (str, type(None)),
                 "train_size": (int, type(None)), "license": (str, type(None))}


_KIND_WORDS = {str: "a string", list: "a list", (str, type(None)): "a string or null",
               (int, type(None)): "an integer or null"}


def _check(where: str, item: object, keys: dict, required: tuple[str, ...]) -> list[str]:
    if not isinstance(item, dict):
        return [f"{where}: must be an object"]
    problems = [f"{where}: unknown field {k!r}" for k in item if k not in keys]
    problems += [f"{where}: missing {k!r}" for k in required if item.get(k) in (None, "")]
    for key, kind in keys.items():
        value = item.get(key)
        if key in item and value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            problems.append(f"{where}: {key} must be {_KIND_WORDS[kind]} (got {type(value).__name__} {value!r:.40})")
    if isinstance(item.get("train_size"), int) and not isinstance(item["train_size"], bool) and item["train_size"] <= 0:
        problems.append(f"{where}: train_size must be a positive integer")
    if isinstance(item.get("task_type"), str) and item["task_type"] not in TASK_TYPES:
        problems.append(f"{where}: task_type must be one of {', '.join(TASK_TYPES)}")
    return problems


def _source(where: str, item: dict, problems: list[str]) -> CatalogSource | None:
    found = _check(where, item, _SOURCE_KEYS, ("repo_id", "base_model", "task", "format"))
    if not found:
        try:
            validate_repo_id(item["repo_id"])
            validate_revision(item["repo_id"], item.get("revision"))
        except HubError as exc:
            found.append(f"{where}: {exc.message}")
        if item["format"] not in FORMATS:
            found.append(f"{where}: format must be one of {', '.join(FORMATS)}")
        sub = item.get("subfolder", "")
        if sub and (sub.startswith("/") or ".." in sub.split("/") or "\\" in sub):
            found.append(f"{where}: subfolder {sub!r} must be a relative path inside the repo")
    problems += found
    # the spelling add and pull register under (docs/formats.md): one model, one space
    return None if found else CatalogSource(**{**item, "base_model": canonical_base_model(item["base_model"])})


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a catalog (default: the packaged ``registry.json``)."""
    path = Path(path) if path is not None else default_catalog_path()
    try:
        document = parse(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, JSONProblem) as exc:
        raise CatalogError(f"{path}: is not valid JSON ({exc})", hint="fix the file; its schema is in docs/catalog.md") from exc
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        raise CatalogError(f"{path}: needs \"schema_version\": {SCHEMA_VERSION} at the top level",
                           hint="see docs/catalog.md for the schema")
    for key in ("sources", "builtin"):
        if not isinstance(document.get(key) or [], list):
            raise CatalogError(f"{path}: {key} must be a list (got {type(document[key]).__name__})",
                               hint="see docs/catalog.md for the schema")
    problems: list[str] = []
    catalog = Catalog(str(path))
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(document.get("sources") or []):
        where = f"sources[{i}]" + (f" ({item.get('repo_id')})" if isinstance(item, dict) and item.get("repo_id") else "")
        source = _source(where, item, problems)
        if source is not None:
            if (source.repo_id, source.subfolder) in seen:
                problems.append(f"{where}: listed twice")
            seen.add((source.repo_id, source.subfolder))
            catalog.sources.append(source)
    for i, item in enumerate(document.get("builtin") or []):
        where = f"builtin[{i}]" + (f" ({item.get('task')})" if isinstance(item, dict) and item.get("task") else "")
        found = _check(where, item, _BUILTIN_KEYS, ("task", "base_model", "methods"))
        problems += found
        if not found:
            catalog.builtin.append(CatalogBuiltin(**{**item, "methods": tuple(item["methods"]),
                                                     "base_model": canonical_base_model(item["base_model"])}))
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise CatalogError(f"{path}: {'; '.join(problems[:3])}{more}", hint="fix those entries; the schema is in docs/catalog.md")
    return catalog
