"""Validation of what a hub (or a catalog, or a cache folder name) tells us to use as a name.

Repo ids, revisions and file names end up in URLs and in paths under the Hugging Face cache;
each is checked before it is used, so that a hostile listing cannot make zoo-rank write
outside the cache or request another host.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from ..errors import HubError

_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"^(?:{_PART}/)?{_PART}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


def validate_repo_id(repo_id: str) -> str:
    """``owner/name`` (or ``name``) as the hub allows them: no ``..``, ``--``, slashes or URLs."""
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or ".." in repo_id or "--" in repo_id:
        raise HubError(str(repo_id), "is not a valid Hugging Face repo id",
                       hint="use the form owner/name (letters, digits, . _ -), as shown on the hub")
    return repo_id


def is_commit(revision: object) -> bool:
    """A 40-hex commit sha (anything else, whatever its type, is not)."""
    return isinstance(revision, str) and bool(_COMMIT.match(revision))


def validate_revision(repo_id: str, revision: str | None) -> str | None:
    """A branch, tag or 40-hex commit; ``None`` means the default branch."""
    if revision is None:
        return None
    if not _REVISION.match(revision) or ".." in revision or revision.endswith("/"):
        raise HubError(repo_id, f"revision {revision!r} is not a valid branch, tag or commit",
                       hint="pass a branch or tag name, or a 40-character commit sha")
    return revision


def validate_filename(repo_id: str, filename: str) -> str:
    """A relative POSIX path inside the repo: no absolute paths, ``..``, backslashes or NULs."""
    path = PurePosixPath(filename)
    if (not filename or filename.startswith("/") or "\\" in filename or "\x00" in filename
            or any(part in ("", ".", "..") for part in filename.split("/")) or len(path.parts) > 16):
        raise HubError(repo_id, f"lists an unsafe file name {filename!r}",
                       hint="the repo listing is malformed or hostile; it was not downloaded")
    return filename
