"""Keeping the registry in step with the hub and the local Hugging Face cache.

    >>> import zoo_rank
    >>> zoo_rank.search_hub(base_model="bert-base-uncased", limit=5)
    >>> zoo_rank.pull(["AdapterHub/bert-base-uncased-pf-sst2"])
    >>> zoo_rank.refresh(offline=True)       # no network: embed what the cache holds

``pull`` resolves each repo to a commit, downloads only its adapter files (several repos at
once, one progress bar), reads and embeds them, and registers everything in one transaction
at the end — so a failure or Ctrl-C registers nothing, and an interrupted download resumes
next time. ``refresh --offline`` embeds cached snapshots the registry lacks (or whose
embedder version is stale) from the cache alone.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..catalog import Catalog, load_catalog
from ..embedders import Space, get_embedder, ingest_embedders
from ..errors import ZooRankError
from ..executors import Executor, InProcessExecutor, ingest_executor, unwrap
from ..hub import HubModel, RetryPolicy, Snapshot, fetch, hub_cache_dir, resolve, snapshot_key
from ..hub import search as _search
from ..hub.cache import corrupt_files, scan
from ..hub.ids import HubError
from ..registry import Entry, Registry
from .ingest import AddResult, Source, gather, ingest

Progress = Callable[[int, int], None]  # (bytes done, bytes total)
REFRESH_BATCH = 200  # cached snapshots embedded and registered per transaction by refresh


@dataclass
class SyncResult(AddResult):
    """``AddResult`` plus what was skipped without reading (already registered at that commit)."""

    skipped: list[str] = field(default_factory=list)
    scanned: int | None = None  # refresh: adapter snapshots found in the cache
    cache: str | None = None  # refresh: the cache folder it scanned
    base_models: list[str] = field(default_factory=list)  # pull --with-base-model: fetched, as repo@sha


def search_hub(*, base_model: str | None = None, library: str | None = None, query: str | None = None,
               limit: int | None = 20, registry: Registry | None = None, endpoint: str | None = None,
               token: str | bool | None = None, policy: RetryPolicy = RetryPolicy()) -> list[HubModel]:
    """Adapter repos on the hub for ``base_model`` (most downloaded first); their metadata is
    stored in the registry for offline use."""
    found = _search(base_model=base_model, library=library, query=query, limit=limit, endpoint=endpoint, token=token,
                    policy=policy)
    if found:
        (registry or Registry()).save_hub_models([m.to_dict() for m in found])
    return found


def _entry_name(registry: Registry, taken: set[str], repo_id: str, sha: str, subfolder: str) -> str:
    name = repo_id + (f"/{subfolder}" if subfolder else "")
    if name in taken or registry.get(name) is not None:
        name = f"{name}@{sha[:8]}"  # another commit of this repo is registered under the plain name
    taken.add(name)
    return name


def _stale(entry: Entry) -> bool:
    """True when one of the entry's vectors is from an older version of an embedder that runs on
    ingest (or it has none from one); ``zoo-rank embed`` keeps the others current."""
    current = {name: get_embedder(name).version for name in ingest_embedders()}
    seen = [(space.embedder, space.version) for space in map(Space.from_id, entry.spaces) if space.embedder in current]
    return not seen or any(version != current[name] for name, version in seen)


def _up_to_date(known: dict[str, Entry], key: str) -> bool:
    """Registered under this source key, with vectors from the current embedders."""
    return key in known and not _stale(known[key])


def _sources(registry: Registry, snapshot: Snapshot, catalog: Catalog, known: dict[str, Entry], result: SyncResult,
             taken: set[str], anew: frozenset[str] = frozenset()) -> list[Source]:
    """The checkpoints of a snapshot to embed: new ones, and registered ones whose embedder
    version is stale (renewed in place) or whose cache files were repaired (``anew``)."""
    sources = []
    for subfolder in snapshot.checkpoints:
        key = snapshot_key(snapshot.repo_id, snapshot.sha, subfolder)
        if _up_to_date(known, key) and key not in anew:
            result.skipped.append(key)
            continue
        directory = snapshot.checkpoint_dir(subfolder)
        damaged = [] if snapshot.verified else corrupt_files(directory)
        if damaged:
            result.failed.append(HubError(snapshot.repo_id, f"{key}: the cached {', '.join(damaged)} does not match "
                                                            "its hash (damaged on disk)",
                                          hint=f"`zoo-rank pull {snapshot.repo_id}@{snapshot.sha}` fetches it again"))
            continue
        listed = catalog.source(snapshot.repo_id, subfolder)
        stale = known.get(key)
        if stale is not None:  # embedder changed since it was registered: new vectors, same entry
            sources.append(Source(str(directory), stale.base_model, renews=stale))
            continue
        model = snapshot.model or HubModel(snapshot.repo_id)
        hub = {k: v for k, v in model.to_dict().items() if v not in (None, [], "") and k not in ("tags", "sha")}
        hub.update(repo_id=snapshot.repo_id, revision=snapshot.sha, subfolder=subfolder)
        task = listed.task if listed else (model.tasks[0] if model.tasks else
                                           model.datasets[0] if len(model.datasets) == 1 else None)
        licence = (listed.license if listed else None) or model.license
        sources.append(Source(
            str(directory), listed.base_model if listed else None,
            _entry_name(registry, taken, snapshot.repo_id, snapshot.sha, subfolder), task=task,
            task_type=listed.task_type if listed else None, train_size=listed.train_size if listed else None,
            revision=snapshot.sha, source=key, metadata={"hub": hub, **({"license": licence} if licence else {})},
        ))
    return sources


def _ingest_snapshots(registry: Registry, snapshots: list[Snapshot], catalog: Catalog, known: dict[str, Entry],
                      result: SyncResult, executor: Executor | None, keep_going: bool,
                      anew: frozenset[str] = frozenset()) -> None:
    """Embed (through ``executor``; None: chosen by the amount of work) and register, in one
    transaction, the checkpoints of ``snapshots`` the registry lacks or holds with stale vectors
    (and those of ``anew``, source keys whose cache files were repaired)."""
    taken: set[str] = set()
    sources = [source for snapshot in snapshots for source in _sources(registry, snapshot, catalog, known, result,
                                                                       taken, anew)]
    ingest(registry, sources, executor=executor, keep_going=keep_going, result=result)


def pull(
    repo_ids: Sequence[str] = (),
    *,
    base_model: str | None = None,
    library: str | None = None,
    limit: int | None = 20,
    revision: str | None = None,
    registry: Registry | None = None,
    catalog: Catalog | None = None,
    workers: int = 4,
    keep_going: bool | None = None,
    endpoint: str | None = None,
    cache_dir: str | Path | None = None,
    token: str | bool | None = None,
    policy: RetryPolicy = RetryPolicy(),
    progress: Progress | None = None,
    executor: Executor | None = None,
    with_base_model: bool = False,
) -> SyncResult:
    """Fetch, embed and register hub adapters: ``repo_ids`` (``owner/name`` or ``owner/name@rev``),
    or the ``limit`` most downloaded adapters of ``base_model``. ``with_base_model``: also fetch
    the base model each adapter names (config, tokenizer, safetensors weights; pinned and
    verified like adapters), which the behaviour embedder runs.

    Downloads run in ``workers`` threads here; reading and embedding go to ``executor`` (in
    this process by default). All-or-nothing by default for explicit repo ids (one bad repo
    registers nothing); with ``keep_going`` (the default for ``base_model`` discovery) bad
    repos are reported in ``result.failed`` and the rest registered.
    """
    registry = registry or Registry()
    catalog = catalog or load_catalog()
    result = SyncResult()
    started = time.perf_counter()
    wanted = [_split_revision(r, revision) for r in repo_ids]
    if base_model:
        wanted += [(m.repo_id, m.sha) for m in search_hub(base_model=base_model, library=library, limit=limit,
                                                          registry=registry, endpoint=endpoint, token=token,
                                                          policy=policy)]
    keep_going = bool(base_model) if keep_going is None else keep_going
    if not wanted:
        raise ZooRankError("nothing to pull", hint="name repo ids, or pass --base-model to pull its adapters")
    known = registry.by_source_prefix("hf://")
    lock = threading.Lock()
    done = [0, 0]
    repaired: set[str] = set()

    def tick(size: int) -> None:
        with lock:
            done[0] += size
            if progress:
                progress(*done)

    def one(repo_id: str, rev: str | None) -> Snapshot | None:  # in a worker thread: network only
        resolved = resolve(repo_id, rev, endpoint=endpoint, token=token, policy=policy)
        keys = [snapshot_key(repo_id, resolved.sha, sub) for sub in resolved.files.checkpoints]
        if all(_up_to_date(known, k) for k in keys):
            from ..hub.http import repo_folder

            folder = repo_folder(hub_cache_dir(cache_dir), repo_id) / "snapshots" / resolved.sha
            damaged = [f"{sub}/{name}".lstrip("/") for sub in resolved.files.checkpoints
                       for name in corrupt_files(folder / sub if sub else folder)]
            if not damaged:
                with lock:
                    result.skipped += keys
                return None
            with lock:  # registered, but its cache files were damaged since: fetched again (fetch checks each blob)
                repaired.update(keys)
                result.warnings.append(f"{repo_id}: the cached {', '.join(damaged)} did not match its hash; fetched "
                                       "again and embedded anew")
        with lock:
            done[1] += resolved.size
        return fetch(resolved, endpoint=endpoint, cache_dir=cache_dir, token=token, policy=policy,
                     on_file=lambda f: tick(f.size or 0))

    repos = list(dict.fromkeys(wanted))
    snapshots = gather(InProcessExecutor(workers).map(one, repos), lambda _, outcome: unwrap(outcome), result,
                       keep_going)
    if with_base_model:
        _fetch_base_models(snapshots, result, keep_going, endpoint=endpoint, cache_dir=cache_dir, token=token,
                           policy=policy)
    _ingest_snapshots(registry, snapshots, catalog, known, result, executor, keep_going, frozenset(repaired))
    models = [snapshot.model.to_dict() for snapshot in snapshots]
    if models:  # after the entries: a failed registration leaves the hub metadata as it was too
        registry.save_hub_models(models)
    result.seconds["total"] = time.perf_counter() - started
    return result


def _fetch_base_models(snapshots: list[Snapshot], result: SyncResult, keep_going: bool, **hub) -> None:
    """Fetch the base models the snapshots' checkpoints name and the cache lacks (before they are
    embedded, so an embedder that runs the base model finds it)."""
    from ..hub.cache import cached_model_folder
    from ..readers import read_checkpoint

    wanted: list[str] = []
    for snapshot in snapshots:
        for subfolder in snapshot.checkpoints:
            try:
                name = read_checkpoint(snapshot.checkpoint_dir(subfolder)).base_model
            except ZooRankError:
                continue  # said when it is embedded
            if name and name not in wanted and cached_model_folder(name) is None:
                wanted.append(name)
    for name in wanted:
        try:
            result.base_models.append(fetch_base_model(name, **hub))
        except ZooRankError as exc:
            if not keep_going:
                raise
            result.failed.append(exc)


def fetch_base_model(name: str, *, endpoint: str | None = None, cache_dir: str | Path | None = None,
                     token: str | bool | None = None, policy: RetryPolicy = RetryPolicy()) -> str:
    """Download a base model's config, tokenizer and safetensors weights into the Hugging Face
    cache (pinned to the commit seen, each file verified), for the behaviour embedder to run;
    returns ``name@sha``."""
    from ..hub.files import select_model_files

    resolved = resolve(name, policy=policy, endpoint=endpoint, token=token, select=select_model_files)
    fetch(resolved, endpoint=endpoint, cache_dir=cache_dir, token=token, policy=policy)
    return f"{name}@{resolved.sha}"


def _split_revision(repo: str, default: str | None) -> tuple[str, str | None]:
    repo_id, _, rev = repo.partition("@")
    return repo_id, rev or default


def refresh(
    *,
    offline: bool = False,
    registry: Registry | None = None,
    catalog: Catalog | None = None,
    cache_dir: str | Path | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
    workers: int = 4,
    policy: RetryPolicy = RetryPolicy(),
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> SyncResult:
    """Embed every cached adapter snapshot the registry lacks (or holds with a stale embedder
    version). Offline, that is all, and no socket is opened; online, the catalog's sources are
    pulled first (keeping going past the ones that fail)."""
    registry = registry or Registry()
    catalog = catalog or load_catalog()
    result = SyncResult()
    started = time.perf_counter()
    if not offline and catalog.sources:
        pulled = pull([s.repo_id + (f"@{s.revision}" if s.revision else "") for s in catalog.sources],
                      registry=registry, catalog=catalog, keep_going=True, workers=workers, endpoint=endpoint,
                      cache_dir=cache_dir, token=token, policy=policy, progress=progress, executor=executor)
        for name in ("added", "existing", "failed", "warnings", "skipped", "reembedded"):
            getattr(result, name).extend(getattr(pulled, name))
    result.seconds["pull"] = time.perf_counter() - started
    found = scan(cache_dir)
    result.scanned, result.cache = len(found.snapshots), str(hub_cache_dir(cache_dir))
    result.warnings += found.skipped
    known = registry.by_source_prefix("hf://")
    # A corrupted or half-deleted cache entry is reported and skipped. The cache may hold thousands
    # of adapters: each batch is embedded and registered (its own transaction) before the next is
    # read, so memory stays that of one batch and an interrupted refresh keeps what it finished.
    if executor is None:
        executor = ingest_executor(len(found.snapshots))
    for start in range(0, len(found.snapshots), REFRESH_BATCH):
        batch = found.snapshots[start : start + REFRESH_BATCH]
        _ingest_snapshots(registry, batch, catalog, known, result, executor, keep_going=True)
    result.skipped = list(dict.fromkeys(result.skipped))  # online, the pulled snapshots are scanned again
    result.seconds["total"] = time.perf_counter() - started
    return result
