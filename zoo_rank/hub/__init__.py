"""The Hugging Face hub side of zoo-rank: find adapters, fetch only their files, read the cache.

* ``ids``       — validation of repo ids, revisions and file names
* ``http``      — the one HTTP client (stdlib): REST routes, resumable downloads into the HF cache layout
* ``client``    — endpoint/cache resolution, retries with backoff, hub errors as ``HubError``
* ``discovery`` — listing adapters by library tag and base model (``HubModel``)
* ``files``     — which files of a repo are adapter checkpoints
* ``download``  — pinned, verified downloads into the Hugging Face cache
* ``cache``     — the offline scan of that cache

Nothing here imports torch; huggingface_hub is imported only for the token, the model-card
parser and its offline switch, so any release of it works the same.
"""

from .client import RetryPolicy, hub_cache_dir, hub_endpoint
from .discovery import HubModel, search
from .download import ResolvedRepo, Snapshot, fetch, resolve, snapshot_key
from .ids import HubError, validate_repo_id

__all__ = ["HubError", "HubModel", "ResolvedRepo", "RetryPolicy", "Snapshot", "fetch", "hub_cache_dir",
           "hub_endpoint", "resolve", "search", "snapshot_key", "validate_repo_id"]
