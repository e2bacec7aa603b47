"""Fetching a repo's adapter files into the standard Hugging Face cache, pinned and verified.

Each repo is resolved once to the commit sha the hub reports, and every file is fetched at
that sha with ``hf_hub_download`` — so files land where peft, transformers and adapters
look for them (``$HF_HUB_CACHE``), an interrupted download resumes from its ``.incomplete``
blob, and a file already cached at that commit costs no request at all. Every file is then
checked against the hash the listing gave (sha256 for LFS files, the git blob sha1
otherwise); a mismatch (a corrupted cache or a body that is not what the hub promised)
deletes the cached copy, fetches once more, and fails loudly if it still does not match.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from .client import RetryPolicy, hub_cache_dir, hub_endpoint, require_online, with_retries
from .discovery import HubModel, repo_listing
from .files import AdapterFiles, RepoFile, select_adapter_files
from .ids import HubError, is_commit, validate_repo_id, validate_revision


@dataclass
class ResolvedRepo:
    """A repo at one commit: its hub metadata and the adapter files to fetch."""

    repo_id: str
    sha: str
    model: HubModel
    files: AdapterFiles

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

    def checkpoint_dir(self, subfolder: str) -> Path:
        return self.folder / subfolder if subfolder else self.folder


def resolve(repo_id: str, revision: str | None = None, *, endpoint: str | None = None,
            token: str | bool | None = None, policy: RetryPolicy = RetryPolicy()) -> ResolvedRepo:
    """Ask the hub which commit ``revision`` is and which adapter files it holds."""
    from huggingface_hub import HfApi

    validate_repo_id(repo_id)
    validate_revision(repo_id, revision)
    require_online(repo_id)
    api = HfApi(endpoint=hub_endpoint(endpoint), token=token)
    info = with_retries(repo_id, "reading the repo listing",
                        lambda: api.model_info(repo_id, revision=revision, files_metadata=True,
                                               timeout=policy.timeout), policy)
    if not is_commit(getattr(info, "sha", None)):
        raise HubError(repo_id, f"the hub reported no commit sha for revision {revision or 'main'}",
                       hint="check HF_ENDPOINT points at a Hugging Face hub")
    return ResolvedRepo(repo_id, info.sha, HubModel.from_info(info), select_adapter_files(repo_id, repo_listing(info)))


def git_blob_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _matches(path: Path, expected: RepoFile) -> bool:
    if expected.sha256:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest() == expected.sha256
    if expected.blob_id:
        return git_blob_sha1(path) == expected.blob_id
    return expected.size is None or path.stat().st_size == expected.size


def _evict(path: Path) -> None:
    """Remove a cached file and the blob it links to, so the next fetch starts clean."""
    blob = path.resolve() if path.is_symlink() else None
    path.unlink(missing_ok=True)
    if blob is not None:
        blob.unlink(missing_ok=True)


def fetch(resolved: ResolvedRepo, *, endpoint: str | None = None, cache_dir: str | Path | None = None,
          token: str | bool | None = None, policy: RetryPolicy = RetryPolicy(),
          on_file: Callable[[RepoFile], None] | None = None) -> Snapshot:
    """Download (or find in the cache) every adapter file of ``resolved``, verified."""
    from huggingface_hub import hf_hub_download

    cache = hub_cache_dir(cache_dir)
    repo_id, sha = resolved.repo_id, resolved.sha
    folder: Path | None = None
    for expected in resolved.files.files:
        def download(force: bool = False, name: str = expected.path) -> Path:
            return Path(hf_hub_download(repo_id, name, revision=sha, cache_dir=cache, endpoint=hub_endpoint(endpoint),
                                        token=token, etag_timeout=policy.timeout, force_download=force))

        path = with_retries(repo_id, f"downloading {expected.path}", download, policy)
        if not _matches(path, expected):
            _evict(path)
            path = with_retries(repo_id, f"downloading {expected.path}", lambda: download(True), policy)
            if not _matches(path, expected):
                _evict(path)
                raise HubError(repo_id, f"{expected.path} does not match the hash the hub lists for it",
                               hint="the server sent different bytes than it announced; try again later")
        folder = Path(str(path)[: -len(expected.path) - 1])
        if on_file:
            on_file(expected)
    assert folder is not None
    return Snapshot(repo_id, sha, folder, sorted(resolved.files.checkpoints), resolved.model)


def snapshot_key(repo_id: str, sha: str, subfolder: str = "") -> str:
    """The registry ``source`` of a hub checkpoint: ``hf://owner/name@sha[/subfolder]``."""
    return f"hf://{repo_id}@{sha}" + (f"/{PurePosixPath(subfolder).as_posix()}" if subfolder else "")
