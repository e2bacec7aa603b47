"""The one HTTP client zoo-rank talks to a hub with: the hub's public REST routes over the stdlib.

Why not ``HfApi`` and ``hf_hub_download``: their signatures, HTTP stack (requests in 0.x, httpx
in 1.x and later), timeouts (read from the environment at import) and retries (their own, under
ours) change from release to release, so a pull under one huggingface_hub took 105 s and 45
lines to fail where the other gave up at once. Here every request has one timeout (connect and
each read), one retry policy (``client.with_retries``), and files are fetched into the standard
Hugging Face cache layout, which huggingface_hub, transformers and peft read as their own:

    models--<owner>--<name>/blobs/<sha256 or git blob sha1>     the bytes, verified before they land
    models--<owner>--<name>/snapshots/<commit>/<path>            a relative symlink to the blob
    models--<owner>--<name>/refs/<branch>                        the commit a branch named
    .locks/models--<owner>--<name>/<etag>.lock                   huggingface_hub's lock, shared

A download goes to ``blobs/<etag>.incomplete`` and resumes from it with a Range request;
nothing unverified is ever renamed into ``blobs/``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..jsontext import JSONProblem, parse

CHUNK = 1 << 20


class HubHTTPError(Exception):
    """The hub answered with an error status; ``code`` is its ``X-Error-Code`` (RepoNotFound, …)."""

    def __init__(self, status: int, code: str, message: str, url: str) -> None:
        self.status, self.code, self.url, self.message = status, code, url, message
        super().__init__(f"HTTP {status}{f' {code}' if code else ''}: {message or url}")

    @property
    def response(self):  # what client._status reads, as for requests'/httpx's errors
        return self

    @property
    def status_code(self) -> int:
        return self.status


class IncompleteBody(Exception):
    """The connection closed before the announced number of bytes arrived."""


class SlowBody(TimeoutError):
    """A body that keeps arriving, a byte now and then, past its deadline (the per-read timeout never fires)."""


class OversizedBody(Exception):
    """The server sent more bytes than the hub lists for the file."""


MIN_RATE = 32 << 10  # bytes/s: a body that falls behind this pace, after a first --timeout of grace, is cut
MAX_LISTING = 64 << 20  # bytes: an API answer larger than this is no repo listing


def read_blocks(response, grace: float, limit: int | None, what: str) -> Iterator[bytes]:
    """The body in blocks as they arrive (``read1``: one socket read each, so a trickle still returns).

    The per-read timeout never fires on a body that sends a byte now and then; so past ``grace``
    seconds the body must keep ``MIN_RATE`` on average (t seconds in: at least MIN_RATE × (t − grace)
    bytes), or it is cut with ``SlowBody`` (retried like a timeout). Past ``limit`` bytes (the listed
    size) it is cut with ``OversizedBody``: nothing more than the file is ever written."""
    import time

    started, have = time.monotonic(), 0
    read = getattr(response, "read1", None) or response.read
    while True:
        block = read(CHUNK if limit is None else max(1, min(CHUNK, limit - have + 1)))
        if not block:
            return
        have += len(block)
        if limit is not None and have > limit:
            raise OversizedBody(f"{what}: the server sent more than the {limit:,} bytes listed")
        yield block
        elapsed = time.monotonic() - started
        if elapsed > grace and have < MIN_RATE * (elapsed - grace):
            raise SlowBody(f"{what}: {have:,} bytes in {elapsed:.0f} s, slower than {MIN_RATE >> 10} KiB/s")


class _NoAuthAcrossHosts(urllib.request.HTTPRedirectHandler):
    """Follow redirects (the hub sends LFS files to a CDN) without carrying the token to another host:
    a signed CDN URL refuses a second credential, and the token must not leave the hub."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            for name in list(new.headers):
                if name.lower() == "authorization":
                    del new.headers[name]
            new.unredirected_hdrs.pop("Authorization", None)
        return new


_OPENER = urllib.request.build_opener(_NoAuthAcrossHosts)


def _token(token: str | bool | None) -> str | None:
    if token is False:
        return None
    if isinstance(token, str):
        return token
    try:
        from huggingface_hub import get_token  # HF_TOKEN, or the token `hf auth login` saved
    except ImportError:
        return os.environ.get("HF_TOKEN")
    return get_token()


@dataclass
class HubHTTP:
    """Requests to one hub ``endpoint``, each cut after ``timeout`` seconds without an answer or a byte."""

    endpoint: str
    token: str | bool | None = None
    timeout: float = 10.0

    def _request(self, path: str, params: list[tuple[str, str]] | None = None, headers: dict | None = None):
        url = self.endpoint.rstrip("/") + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
        request = urllib.request.Request(url, headers={"User-Agent": _user_agent(), **(headers or {})})
        token = _token(self.token)
        if token:
            request.add_unredirected_header("Authorization", f"Bearer {token}")
        try:
            return _OPENER.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            message = exc.headers.get("X-Error-Message") or ""
            raise HubHTTPError(exc.code, exc.headers.get("X-Error-Code") or "", message, url) from None

    def json(self, path: str, params: list[tuple[str, str]] | None = None):
        """A JSON document, and the URL of the next page when the hub paginates (``Link: rel="next"``)."""
        with self._request(path, params, {"Accept": "application/json"}) as response:
            body = b"".join(read_blocks(response, self.timeout, MAX_LISTING, path))
            following = _next_link(response.headers.get("Link", ""))
        try:
            return parse(body), following
        except JSONProblem as exc:
            kind = response.headers.get("Content-Type") or "no content type"
            raise HubHTTPError(200, "NotJSON", f"answered with something that is not JSON ({kind}: {exc}); is "
                                               "HF_ENDPOINT a Hugging Face hub?", path) from None

    def download(self, path: str, target: Path, size: int | None, on_bytes: Callable[[int], None] | None = None) -> None:
        """Append the file at ``path`` to ``target`` from its current length (resuming), until ``size``."""
        have = target.stat().st_size if target.exists() else 0
        if size is not None and have >= size:
            return
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            response = self._request(path, headers=headers)
        except HubHTTPError as exc:
            if exc.status != 416 or not have:
                raise
            target.write_bytes(b"")  # the partial file is longer than the file: start again
            have, response = 0, self._request(path)
        with response:
            if have and response.status != 206:  # the server ignored the Range: start again
                have = 0
                target.write_bytes(b"")
            left = None if size is None else size - have
            with open(target, "ab") as out:
                try:
                    for block in read_blocks(response, self.timeout, left, path):
                        out.write(block)
                        out.flush()
                        have += len(block)
                        if on_bytes:
                            on_bytes(len(block))
                except OversizedBody:
                    out.truncate(0)  # not the listed file: nothing of it is kept, the next attempt starts clean
                    raise
        if size is not None and have < size:
            raise IncompleteBody(f"the connection closed after {have} of {size} bytes")


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        if 'rel="next"' in part and "<" in part:
            return part[part.index("<") + 1 : part.index(">")]
    return None


def _user_agent() -> str:
    from ..version import __version__

    return f"zoo-rank/{__version__}; python/{platform.python_version()}"


def repo_folder(cache: Path, repo_id: str) -> Path:
    return cache / ("models--" + repo_id.replace("/", "--"))


@contextmanager
def blob_lock(cache: Path, repo_id: str, etag: str) -> Iterator[None]:
    """huggingface_hub's own lock file for a blob, so its downloads and ours never write one blob at once."""
    lock_path = cache / ".locks" / repo_folder(cache, repo_id).name / f"{etag}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def file_digest(path: Path, algorithm: str) -> str:
    """The hash a hub lists for a file: ``sha256`` (LFS files) or ``gitsha1`` (git's blob id)."""
    from ..readers.tensorfile import hash_file

    if algorithm == "gitsha1":
        return hash_file(path, hashlib.sha1(b"blob %d\0" % path.stat().st_size))
    return hash_file(path, hashlib.new(algorithm))


def link_snapshot(cache: Path, repo_id: str, sha: str, filename: str, blob: Path) -> Path:
    """``snapshots/<sha>/<filename>`` pointing at ``blob`` (relative symlink, or a copy where links fail)."""
    pointer = repo_folder(cache, repo_id) / "snapshots" / sha / filename
    pointer.parent.mkdir(parents=True, exist_ok=True)
    relative = os.path.relpath(blob, pointer.parent)
    if pointer.is_symlink() and os.readlink(pointer) == relative:
        return pointer
    tmp = pointer.with_name(f".{pointer.name}.{os.getpid()}.tmp")  # replaced in one step: a reader never sees a gap
    tmp.unlink(missing_ok=True)
    try:
        tmp.symlink_to(relative)
    except OSError:
        import shutil

        shutil.copyfile(blob, tmp)
    os.replace(tmp, pointer)
    return pointer


def write_ref(cache: Path, repo_id: str, revision: str, sha: str) -> None:
    """``refs/<revision>``: which commit a branch or tag named when it was pulled (as huggingface_hub keeps it)."""
    ref = repo_folder(cache, repo_id) / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    tmp = ref.with_name(ref.name + ".tmp")
    tmp.write_text(sha)
    os.replace(tmp, ref)
