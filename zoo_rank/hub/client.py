"""The hub connection: endpoint and cache resolved per call, and hub failures turned into
``HubError``s, with retries (exponential backoff) for the ones that are worth retrying.

huggingface_hub reads ``HF_ENDPOINT`` and ``HF_HUB_CACHE`` once, at import; zoo-rank reads
them on every call and passes them explicitly, so a changed environment (or a test's
stand-in server) is honoured without re-importing anything.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from .ids import HubError

T = TypeVar("T")
DEFAULT_ENDPOINT = "https://huggingface.co"
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


def hub_endpoint(endpoint: str | None = None) -> str:
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; waits ``backoff``, 2×``backoff``, … (at most ``max_wait``) between them."""

    attempts: int = 4
    backoff: float = 1.0
    max_wait: float = 16.0
    timeout: float = 10.0

    def wait(self, attempt: int) -> float:
        return min(self.max_wait, self.backoff * 2**attempt)


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _root(exc: BaseException) -> BaseException:
    """The cause behind urllib's URLError wrapper (a refused connection, a timeout, a DNS failure)."""
    import urllib.error

    if isinstance(exc, urllib.error.URLError) and isinstance(getattr(exc, "reason", None), BaseException):
        return exc.reason
    return exc


def offline_mode() -> bool:
    """huggingface_hub's own offline switch (``HF_HUB_OFFLINE``), read now rather than at import."""
    try:
        from huggingface_hub import constants
    except ImportError:
        constants = None
    value = os.environ.get("HF_HUB_OFFLINE", "")
    return bool(getattr(constants, "HF_HUB_OFFLINE", False)) if constants is not None else value.upper() in (
        "1", "ON", "YES", "TRUE")


def require_online(what: str) -> None:
    if offline_mode():
        raise HubError(what, "needs the network but HF_HUB_OFFLINE is set",
                       hint="unset HF_HUB_OFFLINE, or use `zoo-rank refresh --offline` to work from the cache")


# connection problems, timeouts and bodies cut short, by class name (stdlib and the libraries alike)
_TRANSIENT = {"ConnectionError", "ConnectionRefusedError", "ConnectionResetError", "ConnectionAbortedError",
              "BrokenPipeError", "RemoteDisconnected", "Timeout", "TimeoutException", "ReadTimeout", "ConnectTimeout",
              "ChunkedEncodingError", "ProtocolError", "RemoteProtocolError", "ReadError", "NetworkError",
              "IncompleteRead", "IncompleteBody", "TimeoutError", "timeout"}


def _transient(exc: BaseException) -> bool:
    if _status(exc) in _RETRY_STATUS:
        return True
    return bool({cls.__name__ for cls in type(exc).__mro__} & _TRANSIENT)


def _first_line(exc: BaseException, limit: int) -> str:
    return str(exc).splitlines()[0][:limit] if str(exc) else ""


def _describe(exc: BaseException) -> str:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "SlowBody" in names:
        return f"SlowBody ({_first_line(exc, 160)})"
    if names & {"TimeoutError", "timeout", "Timeout", "TimeoutException", "ReadTimeout", "ConnectTimeout"}:
        return "Timeout (no answer within the --timeout)"
    if "ConnectionRefusedError" in names:
        return "ConnectionRefused (nothing listens at the endpoint)"
    if names & {"IncompleteRead", "IncompleteBody"}:
        return "IncompleteBody (the connection closed before the whole file arrived)"
    return f"{type(exc).__name__} ({_first_line(exc, 160) or 'no detail'})"


def classify(repo_id: str, exc: BaseException, what: str, attempts: int | None = None) -> HubError:
    """A one-line ``HubError`` for a failure of ``what`` (e.g. "listing files") on ``repo_id``;
    a transient failure says after how many ``attempts`` it was given up."""
    import socket

    exc = _root(exc)
    status = _status(exc)
    code = getattr(exc, "code", "") if status is not None else ""
    if code == "GatedRepo":
        return HubError(repo_id, "is gated",
                        hint="accept its conditions on the hub page, then log in (`hf auth login` or HF_TOKEN)")
    if code == "RepoNotFound" or (status == 404 and not code and "/api/models/" in str(getattr(exc, "url", ""))):
        return HubError(repo_id, "was not found on the hub (or is private)",
                        hint="check the repo id; for a private repo, log in (`hf auth login` or HF_TOKEN)")
    if code == "RevisionNotFound":
        return HubError(repo_id, "has no such revision", hint="pass a branch, tag or commit that exists")
    if code == "EntryNotFound":
        return HubError(repo_id, f"{what}: a file it lists is missing on the server",
                        hint="the repo may have changed; pull it again")
    if type(exc).__name__ == "OversizedBody":
        return HubError(repo_id, f"{what}: {_first_line(exc, 200)}",
                        hint="the server is not serving the file the hub lists; check HF_ENDPOINT and any proxy")
    if code == "NotJSON":
        answered = getattr(exc, "message", "") or "answered with something that is not JSON"
        return HubError(repo_id, f"{what}: the server {answered}",
                        hint="check HF_ENDPOINT (or --endpoint) and any proxy in between")
    if status in (401, 403):
        return HubError(repo_id, f"{what}: access denied (HTTP {status})",
                        hint="log in with an account that can read it (`hf auth login` or HF_TOKEN)")
    after = f" (after {attempts} attempts)" if attempts and _transient(exc) else ""
    if status is not None:
        return HubError(repo_id, f"{what}: the hub answered HTTP {status}{after}",
                        hint="try again later; `zoo-rank refresh --offline` works from the cache meanwhile")
    if isinstance(exc, socket.gaierror):
        return HubError(repo_id, f"{what}: cannot resolve the hub's host name (no network?)",
                        hint="check the connection; offline, set HF_HUB_OFFLINE=1 and use `zoo-rank refresh "
                             "--offline`")
    if _transient(exc):
        return HubError(repo_id, f"{what}: {_describe(exc)}{after}",
                        hint="check the connection (HF_ENDPOINT, proxies) and try again; an interrupted download resumes")
    return HubError(repo_id, f"{what}: {type(exc).__name__}: {_first_line(exc, 200)}")


def with_retries(repo_id: str, what: str, call: Callable[[], T], policy: RetryPolicy) -> T:
    """Run ``call``; retry transient failures (5xx, 429, timeouts, cut connections) with backoff."""
    for attempt in range(policy.attempts):
        try:
            return call()
        except HubError:
            raise
        except Exception as exc:  # noqa: BLE001 - turned into a HubError below
            if not _transient(_root(exc)) or attempt == policy.attempts - 1:
                raise classify(repo_id, exc, what, attempts=policy.attempts) from exc
            time.sleep(policy.wait(attempt))
    raise AssertionError("unreachable")
