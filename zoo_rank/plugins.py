"""Plugins: embedders, checkpoint readers, method families, predictors, executors and index
backends from other installed packages, via entry points (the groups below; docs/extending.md).

A package adds an embedder or a reader by declaring it in its own ``pyproject.toml``::

    [project.entry-points."zoo_rank.embedders"]
    mean = "my_package.embedder:MeanEmbedder"      # a class (or instance) with name, version, embed()

    [project.entry-points."zoo_rank.readers"]
    toy = "my_package.reader:READER"               # a zoo_rank.readers.ReaderSpec

and zoo-rank finds it when it is first needed (``importlib.metadata``; no import of the package
until then). The installed distributions are scanned once a process for every group (the CLI's
options alone ask for three), and each plugin's fate is kept (``found()``, `zoo-rank plugins`).
A plugin that fails to load or does not fit is skipped with one line on stderr: a broken
third-party package must not break zoo-rank.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterator

GROUPS: dict[str, str] = {  # what a plugin adds -> its entry-point group
    "embedders": "zoo_rank.embedders",
    "readers": "zoo_rank.readers",
    "families": "zoo_rank.families",
    "predictors": "zoo_rank.predictors",
    "executors": "zoo_rank.executors",
    "index backends": "zoo_rank.index_backends",
}
EMBEDDER_GROUP, READER_GROUP, FAMILY_GROUP = GROUPS["embedders"], GROUPS["readers"], GROUPS["families"]


@dataclass(frozen=True)
class Plugin:
    """One entry point of an installed package, and what became of it (``error`` None: loaded)."""

    group: str
    name: str
    value: str
    distribution: str
    version: str
    error: str | None = None


_FOUND: dict[tuple[str, str], Plugin] = {}


def found() -> list[Plugin]:
    """The plugins of the groups loaded so far in this process, in the order they were met."""
    return list(_FOUND.values())


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, list[tuple[object, str, str]]]:
    """(entry point, distribution, version) of every zoo-rank group, from one scan of the installed
    distributions (a distribution installed twice on the path counts once: the first, as Python
    imports it)."""
    from importlib.metadata import distributions

    wanted = set(GROUPS.values())
    points: dict[str, list[tuple[object, str, str]]] = {}
    seen: set[str] = set()
    for dist in distributions():
        name = dist.metadata["Name"] or "?"
        if name.lower().replace("_", "-") in seen:
            continue
        seen.add(name.lower().replace("_", "-"))
        for point in dist.entry_points:
            if point.group in wanted:
                points.setdefault(point.group, []).append((point, name, dist.version or "?"))
    return points


def load(group: str, check: Callable[[str, object], object]) -> Iterator[tuple[str, object]]:
    """(name, object) for every entry point of ``group`` that loads and passes ``check``
    (which returns the object to use, or raises ``ValueError`` saying what is wrong)."""
    for point, distribution, version in _entry_points().get(group, []):
        try:
            loaded = check(point.name, point.load())
        except Exception as exc:  # noqa: BLE001 - any failure of third-party code: skip it, say so
            detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            _FOUND[group, point.name] = Plugin(group, point.name, point.value, distribution, version, detail)
            print(f"zoo-rank: skipped plugin {point.name!r} ({group} = {point.value}): {detail}", file=sys.stderr)
            continue
        _FOUND[group, point.name] = Plugin(group, point.name, point.value, distribution, version)
        yield point.name, loaded
