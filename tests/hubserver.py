"""A real HTTP server on 127.0.0.1 that speaks the Hugging Face hub routes huggingface_hub uses.

Used by the tests and the pull benchmark in place of huggingface.co (``HF_ENDPOINT``):

* ``GET /api/models?filter=..&search=..&limit=..``      listing (tags must contain every filter)
* ``GET /api/models/<repo>[/revision/<rev>]``             model info, with ``blobs`` metadata
* ``HEAD|GET /<repo>/resolve/<rev>/<path>``               files, with Range (resume) support

Repos hold real files (e.g. ``../shared/realzoo``); LFS-style files (weights) carry their
sha256 as ``X-Linked-Etag`` like the hub's. ``faults`` inject what the real hub and networks
do: a status for the next N requests to a path, a delay, a body cut short, different bytes
than announced, a slow body. ``requests`` records every request for assertions.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


@dataclass
class Repo:
    repo_id: str
    files: dict[str, bytes]
    tags: list[str] = field(default_factory=list)
    card: dict = field(default_factory=dict)
    downloads: int = 0
    private: bool = False
    gated: bool = False
    sha: str = ""

    def __post_init__(self) -> None:
        if not self.sha:
            digest = hashlib.sha1(self.repo_id.encode())
            for path in sorted(self.files):
                digest.update(path.encode() + hashlib.sha1(self.files[path]).digest())
            self.sha = digest.hexdigest()


@dataclass
class Fault:
    """Applied to requests whose path matches ``pattern`` (and ``method``), ``times`` times (None: always)."""

    pattern: str
    # "status", "delay", "truncate", "corrupt", "slow" (value: bytes/s), "stall" (value: bytes sent),
    # "trickle" (value: seconds between single bytes, for ever), "endless" (the file, then bytes for ever, no length)
    kind: str
    value: float = 0
    times: int | None = 1
    method: str | None = None


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def repo_from_folder(repo_id: str, folder: str | Path, subfolder: str = "", **kwargs) -> Repo:
    """A repo holding a folder's files (``SOURCE.json`` left out), optionally under ``subfolder``."""
    folder = Path(folder)
    prefix = f"{subfolder}/" if subfolder else ""
    files = {prefix + p.relative_to(folder).as_posix(): p.read_bytes()
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "SOURCE.json"}
    return Repo(repo_id, files, **kwargs)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:  # clients hanging up mid-answer are expected
        pass


class HubServer:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.mutate_json = None  # Callable[[object], object]: rewrites every 200 JSON answer (fuzzing)
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, repo: Repo) -> Repo:
        self.repos[repo.repo_id] = repo
        return repo

    def fault(self, pattern: str, kind: str, value: float = 0, times: int | None = 1, method: str | None = None) -> None:
        self.faults.append(Fault(pattern, kind, value, times, method))

    def hits(self, pattern: str, method: str | None = None) -> list[tuple[str, str, dict]]:
        return [r for r in self.requests if re.search(pattern, r[1]) and (method is None or r[0] == method)]

    def __enter__(self) -> "HubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if re.search(fault.pattern, path) and fault.method in (None, method) and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    # -- hub documents ------------------------------------------------------------------
    def info(self, repo: Repo, blobs: bool) -> dict:
        siblings = []
        for path, data in sorted(repo.files.items()):
            sibling: dict = {"rfilename": path}
            if blobs:
                sibling.update(size=len(data), blobId=git_blob_sha1(data))
                if path.endswith(LFS_SUFFIXES):
                    sibling["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
            siblings.append(sibling)
        return {
            "_id": repo.sha[:24], "id": repo.repo_id, "modelId": repo.repo_id, "sha": repo.sha, "private": repo.private,
            "gated": "manual" if repo.gated else False, "disabled": False, "downloads": repo.downloads, "likes": 0,
            "tags": repo.tags, "cardData": repo.card, "library_name": next(
                (t for t in repo.tags if t in ("peft", "adapter-transformers")), None),
            "pipeline_tag": repo.card.get("pipeline_tag"), "lastModified": "2024-05-01T12:00:00.000Z",
            "createdAt": "2024-05-01T12:00:00.000Z", "siblings": siblings,
        }


def _handler(hub: HubServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, str(value))
            if "Content-Length" not in (headers or {}):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, document, headers: dict | None = None) -> None:
            if status == 200 and hub.mutate_json is not None:  # a fuzz test's hub: answers of other shapes
                document = hub.mutate_json(document)
            self._send(status, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})})

        def _error(self, status: int, code: str, message: str) -> None:
            self._json(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message})

        def do_HEAD(self) -> None:
            self._route()

        def do_GET(self) -> None:
            self._route()

        def _route(self) -> None:
            url = urlparse(self.path)
            path = unquote(url.path)
            hub.requests.append((self.command, path, dict(self.headers)))
            fault = hub._take_fault(self.command, path)
            if fault and fault.kind == "status":
                return self._error(int(fault.value), "", f"injected {int(fault.value)}")
            if fault and fault.kind == "delay":
                time.sleep(fault.value)
            if path == "/api/models":
                return self._list(parse_qs(url.query))
            match = re.match(r"^/api/models/([^/]+/[^/]+|[^/]+)(?:/revision/(.+))?$", path)
            if match:
                return self._info(match.group(1), match.group(2), "blobs" in parse_qs(url.query))
            match = re.match(r"^/([^/]+/[^/]+|[^/]+)/resolve/([^/]+)/(.+)$", path)
            if match:
                return self._file(*match.groups(), fault)
            self._error(404, "", "no such route")

        def _repo(self, repo_id: str, revision: str | None) -> Repo | None:
            repo = hub.repos.get(repo_id)
            if repo is None or repo.private:
                self._error(401 if repo is not None else 404, "RepoNotFound", "Repository not found")
                return None
            if repo.gated and "authorization" not in {k.lower() for k in self.headers}:
                self._error(403, "GatedRepo", "Access to this repo is restricted")
                return None
            if revision not in (None, "main", repo.sha):
                self._error(404, "RevisionNotFound", "Invalid rev id")
                return None
            return repo

        def _list(self, query: dict) -> None:
            filters = query.get("filter", [])
            search = query.get("search", [""])[0]
            found = [r for r in hub.repos.values() if not r.private and all(f in r.tags for f in filters)
                     and search in r.repo_id]
            found.sort(key=lambda r: -r.downloads)
            limit = int(query.get("limit", ["1000"])[0])
            self._json(200, [{k: v for k, v in hub.info(r, False).items() if k != "siblings"} for r in found[:limit]])

        def _info(self, repo_id: str, revision: str | None, blobs: bool) -> None:
            repo = self._repo(repo_id, revision)
            if repo is not None:
                self._json(200, hub.info(repo, blobs))

        def _file(self, repo_id: str, revision: str, filename: str, fault) -> None:
            repo = self._repo(repo_id, revision)
            if repo is None:
                return
            data = repo.files.get(filename)
            if data is None:
                return self._error(404, "EntryNotFound", "Entry not found")
            headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{git_blob_sha1(data)}"', "Accept-Ranges": "bytes",
                       "Content-Type": "application/octet-stream"}
            if filename.endswith(LFS_SUFFIXES):
                headers.update({"X-Linked-Etag": f'"{hashlib.sha256(data).hexdigest()}"', "X-Linked-Size": len(data)})
            body, status = data, 200
            byte_range = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if byte_range and self.command == "GET":
                start = int(byte_range.group(1))
                end = int(byte_range.group(2)) if byte_range.group(2) else len(data) - 1
                body, status = data[start : end + 1], 206
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            headers["Content-Length"] = len(body)
            if self.command == "GET" and fault and fault.kind == "corrupt":
                body = bytes(b ^ 0xFF for b in body[:64]) + body[64:]
            if self.command == "GET" and fault and fault.kind == "truncate":
                self._send_partial(status, headers, body[: int(fault.value)])
                return
            if self.command == "GET" and fault and fault.kind == "stall":  # send part, then hang
                self._send_partial(status, headers, body[: int(fault.value)], hang=True)
                return
            if self.command == "GET" and fault and fault.kind == "slow":
                self._send_slow(status, headers, body, fault.value)
                return
            if self.command == "GET" and fault and fault.kind in ("trickle", "endless"):
                self._send_forever(status, headers, body, fault)
                return
            self._send(status, body, headers)

        def _send_partial(self, status: int, headers: dict, body: bytes, hang: bool = False) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, str(value))
            self.end_headers()
            try:
                self.wfile.write(body)
                self.wfile.flush()
                while hang and not hub.stopping.wait(0.1):
                    pass
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True

        def _send_slow(self, status: int, headers: dict, body: bytes, per_second: float) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, str(value))
            self.end_headers()
            chunk = max(1, int(per_second / 20))
            try:
                for start in range(0, len(body), chunk):
                    self.wfile.write(body[start : start + chunk])
                    self.wfile.flush()
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _send_forever(self, status: int, headers: dict, body: bytes, fault: Fault) -> None:
            """Never finish: one byte every ``fault.value`` s (trickle), or the body and then more (endless)."""
            self.send_response(status)
            for key, value in headers.items():
                if fault.kind != "endless" or key != "Content-Length":
                    self.send_header(key, str(value))
            self.end_headers()
            self.close_connection = True
            try:
                if fault.kind == "endless":
                    self.wfile.write(body)
                while not hub.stopping.is_set():
                    self.wfile.write(b"x" if fault.kind == "trickle" else b"x" * 65536)
                    self.wfile.flush()
                    if fault.kind == "trickle":
                        hub.stopping.wait(fault.value)
            except (BrokenPipeError, ConnectionResetError, OSError):
                pass

    return Handler
