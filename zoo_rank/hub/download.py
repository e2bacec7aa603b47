"""Fetching a repo's adapter files into the standard Hugging Face cache, pinned and verified.

Each repo is resolved once to the commit sha the hub reports, and every file is fetched at
that sha (``http.HubHTTP``) into the cache layout huggingface_hub keeps — so files land where
peft, transformers and adapters look for them (``$HF_HUB_CACHE``), an interrupted download
resumes from its ``.incomplete`` blob, and a file already cached costs no request at all.
Every file is checked against the hash the listing gave (sha256 for LFS files, the git blob
sha1 otherwise) before it is renamed into the cache; bytes that do not match are deleted,
fetched once more, and refused loudly if they still do not match — so a bad download never
poisons the cache for the next pull.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from .client import RetryPolicy, hub_cache_dir, hub_endpoint, require_online, with_retries
from .discovery import HubModel, repo_listing
from .files import AdapterFiles, RepoFile, select_adapter_files
from .ids import HubError, is_commit, validate_filename, validate_repo_id, validate_revision


@dataclass
class ResolvedRepo:
    """A repo at one commit: its hub metadata and the adapter files to fetch."""

    repo_id: str
    sha: str
    model: HubModel
    files: AdapterFiles
    revision: str | None = None  # the branch or tag asked for, written to refs/ when fetched

    @property
    def size(self) -> int:
        return sum(f.size or 0 for f in self.files.files)


@dataclass
class Snapshot:
    """A fetched repo: the cache folder of its commit and its checkpoint sub-folders."""

    repo_id: str
    sha: str
    folder: Path
    checkpoints: list[str] = field(default_factory=list)
    model: HubModel | None = None
    verified: bool = False  # every file just checked against its listed hash (``fetch``); a cache scan's is not

    def checkpoint_dir(self, subfolder: str) -> Path:
        return self.folder / subfolder if subfolder else self.folder


def resolve(repo_id: str, revision: str | None = None, *, endpoint: str | None = None,
            token: str | bool | None = None, policy: RetryPolicy = RetryPolicy(),
            select: Callable[[str, list[RepoFile]], AdapterFiles] = select_adapter_files) -> ResolvedRepo:
    """Ask the hub which commit ``revision`` is and which files of it to fetch: the adapter
    checkpoints (``select_adapter_files``), or a base model's (``files.select_model_files``)."""
    from urllib.parse import quote

    from .http import HubHTTP

    validate_repo_id(repo_id)
    validate_revision(repo_id, revision)
    require_online(repo_id)
    client = HubHTTP(hub_endpoint(endpoint), token, policy.timeout)
    path = f"/api/models/{repo_id}" + (f"/revision/{quote(revision, safe='')}" if revision else "")
    info, _ = with_retries(repo_id, "reading the repo listing", lambda: client.json(path, [("blobs", "true")]), policy)
    if not isinstance(info, dict) or not is_commit(info.get("sha")):
        raise HubError(repo_id, f"the hub reported no commit sha for revision {revision or 'main'}",
                       hint="check HF_ENDPOINT points at a Hugging Face hub")
    try:
        resolved = ResolvedRepo(repo_id, info["sha"], HubModel.from_json(info), select(repo_id, repo_listing(info)))
    except (TypeError, ValueError, AttributeError, KeyError) as exc:  # fields of other types than a hub sends
        raise HubError(repo_id, f"the hub's answer has an unexpected shape ({type(exc).__name__}: {str(exc)[:120]})",
                       hint="check that HF_ENDPOINT points at a Hugging Face hub") from exc
    resolved.revision = revision
    return resolved


def _etag(repo_id: str, expected: RepoFile) -> tuple[str, str]:
    """(the blob's name in the cache, the hash it is checked with): sha256 for LFS files, else the git blob sha1."""
    if expected.sha256:
        return expected.sha256, "sha256"
    if expected.blob_id:
        return expected.blob_id, "gitsha1"
    raise HubError(repo_id, f"{expected.path}: the listing gives no hash for it",
                   hint="a hub lists a sha256 or a git blob id for every file; check HF_ENDPOINT")


def fetch(resolved: ResolvedRepo, *, endpoint: str | None = None, cache_dir: str | Path | None = None,
          token: str | bool | None = None, policy: RetryPolicy = RetryPolicy(),
          on_file: Callable[[RepoFile], None] | None = None) -> Snapshot:
    """Download (or find in the cache) every adapter file of ``resolved``, verified.

    A file is fetched into ``blobs/<etag>.incomplete`` (resumed from there after a cut, a
    timeout or a Ctrl-C), hashed, and only then renamed into ``blobs/``; bytes that do not
    match the listed hash are deleted and fetched once more from scratch, then refused.
    """
    from urllib.parse import quote

    from .http import HubHTTP, blob_lock, file_digest, link_snapshot, repo_folder, write_ref

    cache = hub_cache_dir(cache_dir)
    repo_id, sha = resolved.repo_id, resolved.sha
    client = HubHTTP(hub_endpoint(endpoint), token, policy.timeout)
    blobs = repo_folder(cache, repo_id) / "blobs"
    for expected in resolved.files.files:
        etag, algorithm = _etag(repo_id, expected)
        validate_filename(repo_id, etag)
        blob = blobs / etag
        url = f"/{repo_id}/resolve/{sha}/{quote(expected.path)}"
        with blob_lock(cache, repo_id, etag):
            if not (blob.is_file() and file_digest(blob, algorithm) == etag):
                blobs.mkdir(parents=True, exist_ok=True)
                partial = blob.with_name(etag + ".incomplete")
                for attempt in ("resume", "fresh"):
                    with_retries(repo_id, f"downloading {expected.path}",
                                 lambda: client.download(url, partial, expected.size), policy)
                    if file_digest(partial, algorithm) == etag:
                        os.replace(partial, blob)
                        break
                    partial.unlink()  # wrong bytes: never kept, never resumed from
                else:
                    raise HubError(repo_id, f"{expected.path} does not match the hash the hub lists for it",
                                   hint="the server sent different bytes than it announced; try again later")
            link_snapshot(cache, repo_id, sha, expected.path, blob)
        if on_file:
            on_file(expected)
    if resolved.revision and resolved.revision != sha:
        write_ref(cache, repo_id, resolved.revision, sha)
    folder = repo_folder(cache, repo_id) / "snapshots" / sha
    return Snapshot(repo_id, sha, folder, sorted(resolved.files.checkpoints), resolved.model, verified=True)


def snapshot_key(repo_id: str, sha: str, subfolder: str = "") -> str:
    """The registry ``source`` of a hub checkpoint: ``hf://owner/name@sha[/subfolder]``."""
    return f"hf://{repo_id}@{sha}" + (f"/{PurePosixPath(subfolder).as_posix()}" if subfolder else "")
