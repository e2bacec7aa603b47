"""Plugins: embedders, checkpoint readers, method families, predictors, executors and index
backends from other installed packages, via entry points (the groups below; docs/extending.md).

A package adds an embedder or a reader by declaring it in its own ``pyproject.toml``::

    [project.entry-points."zoo_rank.embedders"]
    mean = "my_package.embedder:MeanEmbedder"      # a class (or instance) with name, version, embed()

    [project.entry-points."zoo_rank.readers"]
    toy = "my_package.reader:READER"               # a zoo_rank.readers.ReaderSpec

and zoo-rank finds it when it starts (``importlib.metadata``; no import of the package until
then). A plugin that fails to load or does not fit is skipped with one line on stderr: a
broken third-party package must not break zoo-rank.
"""

from __future__ import annotations

import sys
from typing import Callable, Iterator

EMBEDDER_GROUP = "zoo_rank.embedders"
READER_GROUP = "zoo_rank.readers"
FAMILY_GROUP = "zoo_rank.families"


def load(group: str, check: Callable[[str, object], object]) -> Iterator[tuple[str, object]]:
    """(name, object) for every entry point of ``group`` that loads and passes ``check``
    (which returns the object to use, or raises ``ValueError`` saying what is wrong)."""
    from importlib.metadata import entry_points

    for point in entry_points(group=group):
        try:
            yield point.name, check(point.name, point.load())
        except Exception as exc:  # noqa: BLE001 - any failure of third-party code: skip it, say so
            detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            print(f"zoo-rank: skipped plugin {point.name!r} ({group} = {point.value}): {detail}", file=sys.stderr)
