"""Plugins: what other installed packages add to zoo-rank, through one entry-point group
(``zoo_rank``) and one hook specification (``hookspecs.py``; docs/extending.md).

The installed distributions are scanned once a process; each plugin module is imported once,
when the first kind is needed (after zoo-rank's own modules, so that it may import them), and
each item it registers is kept with its fate (``found()``, `zoo-rank plugins`). zoo-rank's own
items go through the same hooks (``own``). A plugin that fails to import, a hook that raises,
or an item that does not fit is skipped with one line on stderr: a broken third-party package
must not break zoo-rank.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from functools import lru_cache

from .hookspecs import GROUP, KINDS

PACKAGE = "plugin packages"  # the kind a plugin module that fails to import is listed under

Check = Callable[..., "tuple[str, object]"]  # the registered arguments -> (name, object), or ValueError


@dataclass(frozen=True)
class Plugin:
    """One item a plugin registered (or a plugin module that failed to import), and what became
    of it (``error`` None: in use)."""

    kind: str
    name: str
    value: str  # the entry point: the plugin module
    distribution: str
    version: str
    error: str | None = None


_FOUND: dict[tuple[str, str], Plugin] = {}


def found() -> list[Plugin]:
    """The plugins' items of the kinds loaded so far in this process, in the order they were met."""
    return list(_FOUND.values())


@lru_cache(maxsize=1)
def _entry_points() -> list[tuple[object, str, str]]:
    """(entry point, distribution, version) of the ``zoo_rank`` group, from one scan of the
    installed distributions (a distribution installed twice on the path counts once: the first,
    as Python imports it)."""
    from importlib.metadata import distributions

    points: list[tuple[object, str, str]] = []
    seen: set[str] = set()
    for dist in distributions():
        name = dist.metadata["Name"] or "?"
        if name.lower().replace("_", "-") in seen:
            continue
        seen.add(name.lower().replace("_", "-"))
        points += [(point, name, dist.version or "?") for point in dist.entry_points if point.group == GROUP]
    return points


@lru_cache(maxsize=1)
def _modules() -> list[tuple[object, object, str, str]]:
    """(plugin module, entry point, distribution, version) of every plugin that imports."""
    modules = []
    for point, distribution, version in _entry_points():
        try:
            module = point.load()
        except Exception as exc:  # noqa: BLE001 - any failure of third-party code: skip it, say so
            _skip(Plugin(PACKAGE, point.name, point.value, distribution, version, _detail(exc)))
            continue
        unknown = sorted(n for n in dir(module) if n.startswith("register_") and n not in KINDS)
        if unknown:
            print(f"zoo-rank: plugin {point.name!r} ({point.value}) defines {', '.join(unknown)}, which zoo-rank "
                  f"never calls (its hooks: {', '.join(KINDS)})", file=sys.stderr)
        modules.append((module, point, distribution, version))
    return modules


def own(hook: Callable[[Callable[..., None]], None], check: Check) -> dict[str, object]:
    """zoo-rank's own items of one kind, registered through its ``hook`` like any plugin's."""
    items: dict[str, object] = {}

    def register(*args) -> None:
        name, item = check(*args)
        items[name] = item

    hook(register)
    return items


def installed(hook: str, check: Check, own: Collection[str] = ()) -> Iterator[tuple[str, object]]:
    """(name, object) for every item the installed plugins register through ``hook`` that passes
    ``check`` (which returns the name and object to use, or raises ``ValueError`` saying what
    is wrong) and does not take a name of zoo-rank's ``own``."""
    kind = KINDS[hook]
    for module, point, distribution, version in _modules():
        function = getattr(module, hook, None)
        if function is None:
            continue
        registered: list[tuple] = []
        try:
            function(lambda *args: registered.append(args))
        except Exception as exc:  # noqa: BLE001
            _skip(Plugin(kind, point.name, point.value, distribution, version, f"{hook} failed: {_detail(exc)}"))
            continue
        for args in registered:
            try:
                name, item = check(*args)
                if name in own:
                    raise ValueError(f"{name!r} is zoo-rank's own")
            except Exception as exc:  # noqa: BLE001
                _skip(Plugin(kind, _label(args), point.value, distribution, version, _detail(exc)))
                continue
            _FOUND[kind, name] = Plugin(kind, name, point.value, distribution, version)
            yield name, item


def _skip(plugin: Plugin) -> None:
    _FOUND[plugin.kind, plugin.name] = plugin
    print(f"zoo-rank: skipped plugin {plugin.name!r} ({plugin.kind} from {plugin.value}): {plugin.error}",
          file=sys.stderr)


def _label(args: tuple) -> str:
    """The name a registered item goes by, for an error about it."""
    first = args[0] if args else None
    if isinstance(first, str):
        return first
    return str(getattr(first, "name", None) or getattr(first, "format", None) or type(first).__name__)


def _detail(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
