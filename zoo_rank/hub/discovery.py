"""Finding adapters on the hub: by library tag and base model, with the metadata worth keeping.

The hub tags every PEFT repo ``peft`` and every AdapterHub repo ``adapter-transformers``; a
repo that declares its base model is also tagged ``base_model:adapter:<id>``. Listing with
those filters (sorted by downloads) is how `zoo-rank search` and `pull --base-model` find
candidates; the metadata returned (task tags, datasets, licence, downloads, last modified)
is stored in the registry so that later, offline, it is still known.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from .client import RetryPolicy, hub_endpoint, require_online, with_retries
from .files import RepoFile

LIBRARIES = {"peft": "peft", "adapters": "adapter-transformers", "adapter-transformers": "adapter-transformers"}
_EXPAND = ["sha", "tags", "cardData", "downloads", "likes", "lastModified", "library_name", "pipeline_tag",
           "gated", "private"]


@dataclass
class HubModel:
    """What the hub says about one adapter repo (JSON-serialisable; kept in the registry)."""

    repo_id: str
    sha: str | None = None
    library: str | None = None
    base_model: str | None = None
    pipeline_tag: str | None = None
    tasks: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    license: str | None = None
    downloads: int | None = None
    likes: int | None = None
    last_modified: str | None = None
    gated: bool | str | None = None
    private: bool | None = None
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_info(cls, info) -> "HubModel":
        """From a ``huggingface_hub.ModelInfo`` (any of its optional fields may be missing)."""
        tags = list(getattr(info, "tags", None) or [])
        card = getattr(info, "card_data", None) or getattr(info, "cardData", None) or {}
        card = card.to_dict() if hasattr(card, "to_dict") else dict(card)
        return cls.from_tags(
            info.id, tags, card,
            sha=getattr(info, "sha", None),
            library=getattr(info, "library_name", None),
            pipeline_tag=getattr(info, "pipeline_tag", None),
            downloads=getattr(info, "downloads", None),
            likes=getattr(info, "likes", None),
            last_modified=_iso(getattr(info, "last_modified", None) or getattr(info, "lastModified", None)),
            gated=getattr(info, "gated", None),
            private=getattr(info, "private", None),
        )

    @classmethod
    def from_tags(cls, repo_id: str, tags: list[str], card: dict, **known) -> "HubModel":
        """From hub tags and a model card's YAML header (what an offline cache still has)."""
        base = [t.split(":", 2)[2] for t in tags if t.startswith("base_model:adapter:")]
        base = base or [t.split(":", 1)[1] for t in tags if t.startswith("base_model:") and t.count(":") == 1]
        card_base = card.get("base_model")
        if not base and card_base:
            base = [card_base] if isinstance(card_base, str) else list(card_base)
        datasets = [t.split(":", 1)[1] for t in tags if t.startswith("dataset:")]
        card_datasets = card.get("datasets") or []
        datasets = datasets or ([card_datasets] if isinstance(card_datasets, str) else list(card_datasets))
        licence = next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None) or card.get("license")
        library = known.pop("library", None) or card.get("library_name")
        if library is None:
            library = next((lib for lib in ("peft", "adapter-transformers") if lib in tags), None)
        return cls(
            repo_id=repo_id, library=library, base_model=base[0] if base else None,
            tasks=[t.split(":", 1)[1] for t in tags if t.startswith("adapterhub:")],
            datasets=[str(d) for d in datasets], license=str(licence) if licence else None, tags=tags,
            **{k: v for k, v in known.items() if v is not None},
        )


def _iso(value) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else None


def search(
    *,
    base_model: str | None = None,
    library: str | None = None,
    query: str | None = None,
    limit: int | None = 20,
    endpoint: str | None = None,
    token: str | bool | None = None,
    policy: RetryPolicy = RetryPolicy(),
) -> list[HubModel]:
    """Adapter repos on the hub, most downloaded first (see the module docstring)."""
    from huggingface_hub import HfApi

    require_online(base_model or "hub search")
    libraries = [LIBRARIES[library]] if library else ["peft", "adapter-transformers"]
    api = HfApi(endpoint=hub_endpoint(endpoint), token=token)
    found: dict[str, HubModel] = {}
    for lib in libraries:
        filters = [lib] + ([f"base_model:adapter:{base_model}"] if base_model else [])

        def listing(filters=filters):
            return list(api.list_models(filter=filters, search=query, sort="downloads", direction=-1, limit=limit,
                                        expand=_EXPAND))

        for info in with_retries(base_model or lib, "listing adapters", listing, policy):
            found.setdefault(info.id, HubModel.from_info(info))
    ranked = sorted(found.values(), key=lambda m: (-(m.downloads or 0), m.repo_id))
    return ranked[:limit] if limit else ranked


def repo_listing(info) -> list[RepoFile]:
    """A ``ModelInfo``'s files (fetched with ``files_metadata=True``) as ``RepoFile``s."""
    files = []
    for sibling in getattr(info, "siblings", None) or []:
        lfs = getattr(sibling, "lfs", None)
        sha = lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)
        files.append(RepoFile(sibling.rfilename, getattr(sibling, "size", None), getattr(sibling, "blob_id", None), sha))
    return files
