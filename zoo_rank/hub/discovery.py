"""Finding adapters on the hub: by library tag and base model, with the metadata worth keeping.

The hub tags every PEFT repo ``peft`` and every AdapterHub repo ``adapter-transformers``; a
repo that declares its base model is also tagged ``base_model:adapter:<id>``. Listing with
those filters (sorted by downloads) is how `zoo-rank search` and `pull --base-model` find
candidates; the metadata returned (task tags, datasets, licence, downloads, last modified)
is stored in the registry so that later, offline, it is still known.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

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
    def from_json(cls, info: dict) -> "HubModel":
        """From the hub's JSON model document (``/api/models`` and ``/api/models/<id>``)."""
        card = info.get("cardData") if isinstance(info.get("cardData"), dict) else {}
        tags = [t for t in info.get("tags") or [] if isinstance(t, str)]
        return cls.from_tags(
            str(info.get("id") or info.get("modelId")), tags, card,
            sha=info.get("sha"), library=info.get("library_name"), pipeline_tag=info.get("pipeline_tag"),
            downloads=info.get("downloads"), likes=info.get("likes"), last_modified=info.get("lastModified"),
            gated=info.get("gated"), private=info.get("private"),
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
    from .http import HubHTTP

    require_online(base_model or "hub search")
    libraries = [LIBRARIES[library]] if library else ["peft", "adapter-transformers"]
    client = HubHTTP(hub_endpoint(endpoint), token, policy.timeout)
    found: dict[str, HubModel] = {}
    for lib in libraries:
        params = [("filter", f) for f in [lib] + ([f"base_model:adapter:{base_model}"] if base_model else [])]
        params += [("search", query)] if query else []
        params += [("sort", "downloads"), ("direction", "-1"), ("limit", str(limit or 1000))]
        params += [("expand", field) for field in _EXPAND]
        for info in with_retries(base_model or lib, "listing adapters", lambda: _listing(client, params, limit),
                                 policy):
            model = HubModel.from_json(info)
            found.setdefault(model.repo_id, model)
    ranked = sorted(found.values(), key=lambda m: (-(m.downloads or 0), m.repo_id))
    return ranked[:limit] if limit else ranked


def _listing(client, params: list[tuple[str, str]], limit: int | None) -> list[dict]:
    """Every page of a model listing, up to ``limit`` models."""
    page, following = client.json("/api/models", params)
    models = list(page) if isinstance(page, list) else []
    while following and (limit is None or len(models) < limit):
        path = following.split(client.endpoint.rstrip("/"), 1)[-1]
        page, following = client.json(path)
        models += list(page) if isinstance(page, list) else []
    return [m for m in models if isinstance(m, dict) and isinstance(m.get("id") or m.get("modelId"), str)]


def repo_listing(info: dict) -> list[RepoFile]:
    """A model document's files (fetched with ``blobs=true``) as ``RepoFile``s."""
    files = []
    siblings = info.get("siblings")
    for sibling in siblings if isinstance(siblings, list) else []:
        if not isinstance(sibling, dict) or not isinstance(sibling.get("rfilename"), str):
            continue
        lfs = sibling.get("lfs") if isinstance(sibling.get("lfs"), dict) else {}
        size = sibling.get("size")
        files.append(RepoFile(sibling["rfilename"],
                              size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
                              _text(sibling.get("blobId")), _text(lfs.get("sha256"))))
    return files


def _text(value) -> str | None:
    """A string field of a hub answer, or None where the answer put anything else there."""
    return value if isinstance(value, str) else None
