"""Reading the Hugging Face cache offline: every cached snapshot that holds adapter checkpoints.

The cache layout is huggingface_hub's: ``models--<owner>--<name>/snapshots/<commit>/<files>``
(files are links into ``blobs/``). This module only lists folders and reads model-card
headers; it never opens a socket, which is what lets ``zoo-rank refresh --offline`` run
on a machine with no network at all. Snapshots that are full models (no adapter config) are
ignored; names that are not a valid repo id or commit are skipped rather than trusted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .client import hub_cache_dir
from .discovery import HubModel
from .download import Snapshot
from .files import RepoFile, select_adapter_files
from .ids import HubError, is_commit, validate_repo_id

_MAX_DEPTH = 4


@dataclass
class CacheScan:
    snapshots: list[Snapshot]
    skipped: list[str]  # why a folder was not usable, one line each


def _files_under(folder: Path) -> list[RepoFile]:
    files = []
    for current, dirs, names in os.walk(folder):
        here = Path(current)
        depth = len(here.relative_to(folder).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < _MAX_DEPTH else []
        files += [RepoFile((here / n).relative_to(folder).as_posix()) for n in names]
    return files


def corrupt_files(folder: Path) -> list[str]:
    """The files of one checkpoint folder of a snapshot whose bytes do not match the hash their blob is
    named after (sha256 for LFS files, git's blob sha1 otherwise), or whose blob is gone: a cache file
    damaged on disk must be neither embedded nor trusted as "already registered". Files that are not
    links into ``blobs/`` (a cache written by copying) cannot be checked and are taken as they are."""
    from .http import file_digest

    bad = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not path.is_symlink():
            continue
        etag = Path(os.readlink(path)).name
        algorithm = {64: "sha256", 40: "gitsha1"}.get(len(etag))
        try:
            if algorithm and file_digest(path, algorithm) != etag:
                bad.append(path.name)
        except OSError:  # the link points at nothing
            bad.append(path.name)
    return bad


def card_metadata(folder: Path) -> dict:
    """The YAML header of a snapshot's README.md (tags, datasets, license, base_model), if any."""
    card = folder / "README.md"
    if not card.is_file():
        return {}
    try:
        from huggingface_hub import metadata_load

        return metadata_load(card) or {}
    except Exception:  # noqa: BLE001 - a malformed card only loses metadata
        return {}


def scan(cache_dir: str | Path | None = None) -> CacheScan:
    """Every cached commit of every model repo that holds at least one adapter checkpoint."""
    root = hub_cache_dir(cache_dir)
    result = CacheScan([], [])
    if not root.is_dir():
        return result
    for repo_dir in sorted(root.glob("models--*")):
        repo_id = repo_dir.name[len("models--"):].replace("--", "/")
        try:
            validate_repo_id(repo_id)
        except HubError:
            result.skipped.append(f"{repo_dir}: not a valid repo folder name")
            continue
        snapshots = repo_dir / "snapshots"
        for folder in sorted(snapshots.iterdir()) if snapshots.is_dir() else []:
            if not is_commit(folder.name) or not folder.is_dir():
                continue
            try:
                selected = select_adapter_files(repo_id, _files_under(folder))
            except HubError:
                continue  # a full model or another kind of repo: not ours to register
            card = card_metadata(folder)
            model = HubModel.from_tags(repo_id, list(card.get("tags") or []), card, sha=folder.name)
            result.snapshots.append(Snapshot(repo_id, folder.name, folder, sorted(selected.checkpoints), model))
    return result


def cached_model_folder(repo_id: str) -> Path | None:
    """The snapshot of ``repo_id`` in the Hugging Face cache that ``refs/main`` points at (else the
    newest with a config.json), read from disk: no hub call, whatever HF_HUB_OFFLINE says."""
    try:
        validate_repo_id(repo_id)
    except HubError:
        return None
    repo = hub_cache_dir() / f"models--{repo_id.replace('/', '--')}"
    ref = repo / "refs" / "main"
    candidates = [repo / "snapshots" / ref.read_text().strip()] if ref.is_file() else []
    candidates += sorted((repo / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if (repo / "snapshots").is_dir() else []
    return next((c for c in candidates if (c / "config.json").is_file()), None)
